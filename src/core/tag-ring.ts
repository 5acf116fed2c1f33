/**
 * A single-writer, many-reader log of FLV tags in one SharedArrayBuffer.
 *
 * Layout (offsets in bytes from the ring's base in its slab):
 *
 *   0                128                     128 + indexCap*32         ring end
 *   +----------------+-----------------------+-------------------------+
 *   | control Int32s | index: indexCap slots | data: FLV tags, in order |
 *   +----------------+-----------------------+-------------------------+
 *
 *   control (Int32 words)                 index slot (8 Int32 words)
 *   0 WRITE_SEQ  next seq to commit        0 SEQ   seq stored in this slot
 *   1 TAIL_SEQ   oldest intact seq         1 OFF   tag offset in data
 *   2 KEY_SEQ    latest video keyframe     2 LEN   11 + body + 4 bytes
 *   3 KEY_VALID  1 when KEY_SEQ is set     3 INFO  tag type | flags << 8
 *   4 WRITE_POS  next data offset          4 TS    tag timestamp (ms)
 *   5 CUM_BYTES  bytes committed, mod 2^32 5 CUM   CUM_BYTES after this tag
 *                                          6 ARR   wall-clock ms of commit, low 31 bits
 *                                          7 MARK  HLS cut mark (hls/cut-marks.ts), 0 = none
 *   6 INDEX_CAP  7 DATA_OFF  8 DATA_CAP  9 CLOSED  10 EPOCH  11 HLS_MSN  12 HLS_DISC
 *   13 HLS_MARK_TS  14 HLS_LONGEST  15 HLS_TS  16 HLS_OWNER  17 HLS_GEN  18 HLS_BEAT
 *
 * Each data record is a complete FLV tag (11-byte header, body, 4-byte
 * PreviousTagSize), never split across the end of the data area.
 * Sequence numbers are Int32 and compared wrap-safe, so they never run out.
 *
 * Orderings that make cross-thread reads safe:
 * - The writer stores TAIL_SEQ (Atomics) past every record it is about to
 *   overwrite BEFORE writing a byte there; a reader copies a record, then
 *   re-loads TAIL_SEQ: if its seq is still >= tail the copy is whole.
 * - The writer fills the bytes and the index slot, THEN Atomics.stores
 *   WRITE_SEQ; a reader Atomics.loads WRITE_SEQ first, so it never sees a
 *   slot that is not fully written (Atomics are sequentially consistent).
 */
import { SluiceError } from './errors.js';

export const C_WRITE_SEQ = 0;
export const C_TAIL_SEQ = 1;
export const C_KEY_SEQ = 2;
export const C_KEY_VALID = 3;
export const C_WRITE_POS = 4;
export const C_CUM_BYTES = 5;
export const C_INDEX_CAP = 6;
export const C_DATA_OFF = 7;
export const C_DATA_CAP = 8;
export const C_CLOSED = 9;
export const C_EPOCH = 10;
/** Next HLS media sequence number the writer will mark (hls/cut-marks.ts): survives a republish in the same ring. */
export const C_HLS_MSN = 11;
/** Discontinuities the writer has marked so far (EXT-X-DISCONTINUITY-SEQUENCE), kept like HLS_MSN. */
export const C_HLS_DISC = 12;
/** Timestamp of the last HLS mark, and the longest segment between marks so far, ms (EXT-X-TARGETDURATION). */
export const C_HLS_MARK_TS = 13;
export const C_HLS_LONGEST = 14;
/** 1 once some worker was asked for the stream's MPEG-TS HLS: every worker segmenting it builds TS from then on. */
export const C_HLS_TS = 15;
/** The worker that segments the stream's HLS for the whole node (its id + 1; 0: none), and each claim's number (http/hls-share.ts). */
export const C_HLS_OWNER = 16;
export const C_HLS_GEN = 17;
/** The owner's last sign of life, ms (low 30 bits of its clock): a mirror takes over when it goes stale. */
export const C_HLS_BEAT = 18;
const CONTROL_BYTES = 128;

export const S_SEQ = 0;
export const S_OFF = 1;
export const S_LEN = 2;
export const S_INFO = 3;
export const S_TS = 4;
export const S_CUM = 5;
export const S_ARRIVAL = 6;
export const S_MARK = 7;
const SLOT_WORDS = 8;

/** Record flags (INFO bits 8..15). */
export const TagFlag = {
  Key: 1,
  SequenceHeader: 2,
  Metadata: 4,
  SequenceEnd: 8,
} as const;

const FLV_HEADER = 11;
const FLV_TRAILER = 4;
/** FLV TagType of video (protocol/types.ts TagType.Video; core sits below protocol). */
const VIDEO_TAG = 9;

/** Wrap-safe `a < b` for Int32 sequence numbers. */
export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** Wrap-safe distance b - a. */
export function seqDistance(a: number, b: number): number {
  return (b - a) | 0;
}

/** One record's index fields, filled in place by TagRing.read(). */
export interface RecordView {
  seq: number;
  /** Offset of the FLV tag (its 11-byte header) in `ring.data`. */
  offset: number;
  /** Whole FLV tag length: 11 + body + 4. */
  length: number;
  type: number;
  flags: number;
  timestamp: number;
  /** CUM_BYTES after this record (mod 2^32). */
  cumBytes: number;
  /** Wall-clock ms of commit, low 31 bits (see arrivalAge). */
  arrival: number;
  /** The writer's HLS cut mark: where every thread's segmenter starts a segment (0 = none). */
  mark: number;
}

export function newRecordView(): RecordView {
  return { seq: 0, offset: 0, length: 0, type: 0, flags: 0, timestamp: 0, cumBytes: 0, arrival: 0, mark: 0 };
}

/** Low 31 bits of the wall clock: comparable across threads, wraps every ~24 days. */
export function wallMs31(now = Date.now()): number {
  return now & 0x7fffffff;
}

/**
 * Milliseconds since a record's commit (ingest-to-egress delay). A record
 * another thread committed after the caller read `now` is age 0, not 2^31 - 1
 * (a difference past 2^30 ms, ~12 days, can only be such a negative one).
 */
export function arrivalAge(arrival: number, now = Date.now()): number {
  const age = (wallMs31(now) - arrival) & 0x7fffffff;
  return age >= 0x40000000 ? 0 : age;
}

/** Index capacity chosen for a slab: one slot per ~512 data bytes, power of two (32 bytes a slot). */
function indexCapacityFor(slabBytes: number): number {
  let cap = 64;
  while (cap * 2 <= slabBytes / 512) cap *= 2;
  return cap;
}

export class TagRing {
  readonly ctl: Int32Array;
  readonly index: Int32Array;
  readonly data: Uint8Array;
  readonly indexCap: number;
  readonly dataCap: number;
  /** Largest body accepted: a quarter of the data area keeps room for a GOP. */
  readonly maxBody: number;

  // Writer-side state of the open reservation.
  private resOffset = -1;
  private resBody = 0;

  private constructor(
    readonly sab: SharedArrayBuffer,
    readonly base: number,
  ) {
    this.ctl = new Int32Array(sab, base, CONTROL_BYTES / 4);
    this.indexCap = this.ctl[C_INDEX_CAP]!;
    if (this.indexCap === 0) throw new SluiceError('ERR_INTERNAL', 'ring: slab region was never formatted');
    this.index = new Int32Array(sab, base + CONTROL_BYTES, this.indexCap * SLOT_WORDS);
    this.dataCap = this.ctl[C_DATA_CAP]!;
    this.data = new Uint8Array(sab, base + this.ctl[C_DATA_OFF]!, this.dataCap);
    this.maxBody = Math.floor(this.dataCap / 4) - FLV_HEADER - FLV_TRAILER;
  }

  /**
   * Formats `length` bytes of a slab from `base` (8-aligned) as an empty
   * ring. Done once per stream, before any reader or writer attaches.
   */
  static create(sab: SharedArrayBuffer, base = 0, length = sab.byteLength - base): TagRing {
    const ctl = new Int32Array(sab, base, CONTROL_BYTES / 4);
    const epoch = ctl[C_EPOCH]! + 1;
    ctl.fill(0);
    const indexCap = indexCapacityFor(length);
    const dataOff = CONTROL_BYTES + indexCap * SLOT_WORDS * 4;
    if (length - dataOff < 4096) {
      throw new SluiceError('ERR_CONFIG', `ring of ${length} bytes leaves no data area`);
    }
    ctl[C_INDEX_CAP] = indexCap;
    ctl[C_DATA_OFF] = dataOff;
    ctl[C_DATA_CAP] = length - dataOff;
    ctl[C_EPOCH] = epoch;
    const ring = new TagRing(sab, base);
    ring.index.fill(0);
    // Slot seqs must not look valid for seq 0: mark every slot empty.
    for (let i = 0; i < indexCap; i++) ring.index[i * SLOT_WORDS + S_SEQ] = -1 - i;
    return ring;
  }

  /**
   * Attaches to a ring formatted elsewhere: a reader on any thread, or a
   * writer taking over a ring whose previous writer is gone (its control
   * words hold all the writer's state; only one writer at a time).
   */
  static attach(sab: SharedArrayBuffer, base = 0): TagRing {
    return new TagRing(sab, base);
  }

  // ---- reader side -------------------------------------------------------

  /** Next seq to be committed: readable records are [tail, head). */
  head(): number {
    return Atomics.load(this.ctl, C_WRITE_SEQ);
  }

  tail(): number {
    return Atomics.load(this.ctl, C_TAIL_SEQ);
  }

  /** Latest keyframe seq still intact in the ring, or undefined. */
  keySeq(): number | undefined {
    if (Atomics.load(this.ctl, C_KEY_VALID) === 0) return undefined;
    const k = Atomics.load(this.ctl, C_KEY_SEQ);
    return seqBefore(k, this.tail()) ? undefined : k;
  }

  closed(): boolean {
    return Atomics.load(this.ctl, C_CLOSED) !== 0;
  }

  /** Fills `out` with record `seq`'s fields; false if not committed or lapped. */
  read(seq: number, out: RecordView): boolean {
    if (!seqBefore(seq, this.head()) || seqBefore(seq, this.tail())) return false;
    const base = (seq & (this.indexCap - 1)) * SLOT_WORDS;
    const ix = this.index;
    if (ix[base + S_SEQ] !== seq) return false;
    const info = ix[base + S_INFO]!;
    out.seq = seq;
    out.offset = ix[base + S_OFF]!;
    out.length = ix[base + S_LEN]!;
    out.type = info & 0xff;
    out.flags = (info >>> 8) & 0xff;
    out.timestamp = ix[base + S_TS]! >>> 0;
    out.cumBytes = ix[base + S_CUM]! >>> 0;
    out.arrival = ix[base + S_ARRIVAL]!;
    out.mark = ix[base + S_MARK]!;
    // The slot may have been rewritten while we read it: check again.
    return !seqBefore(seq, this.tail()) && ix[base + S_SEQ] === seq;
  }

  /** True while `seq`'s bytes are still intact (call after copying them). */
  intact(seq: number): boolean {
    return !seqBefore(seq, this.tail());
  }

  /** Bytes committed so far (mod 2^32); with RecordView.cumBytes gives a reader's lag. */
  cumBytes(): number {
    return Atomics.load(this.ctl, C_CUM_BYTES) >>> 0;
  }

  // ---- writer side -------------------------------------------------------

  /**
   * Reserves room for a tag with `bodyLength` body bytes and returns the
   * offset in `data` where the body goes. Records in the way are retired
   * first (TAIL_SEQ moves before any byte is written).
   */
  reserve(bodyLength: number): number {
    if (this.resOffset >= 0) throw new SluiceError('ERR_INTERNAL', 'ring: reservation already open');
    if (bodyLength > this.maxBody) {
      throw new SluiceError('ERR_MESSAGE_TOO_LARGE', `ring: tag body ${bodyLength} exceeds ${this.maxBody} bytes`);
    }
    const total = FLV_HEADER + bodyLength + FLV_TRAILER;
    const ctl = this.ctl;
    let pos = ctl[C_WRITE_POS]!;
    const wrapped = pos + total > this.dataCap;
    const deadFrom = pos;
    if (wrapped) pos = 0;
    const end = pos + total;
    const seq = ctl[C_WRITE_SEQ]!;
    let tail = ctl[C_TAIL_SEQ]!;
    const ix = this.index;
    // Retire records overlapping [pos, end), and on wrap the dead zone past deadFrom.
    while (seqBefore(tail, seq)) {
      const base = (tail & (this.indexCap - 1)) * SLOT_WORDS;
      const off = ix[base + S_OFF]!;
      const len = ix[base + S_LEN]!;
      const overlaps = off < end && off + len > pos;
      const dead = wrapped && off >= deadFrom;
      if (!overlaps && !dead) break;
      tail = (tail + 1) | 0;
    }
    // The slot we will write still holds seq - indexCap: retire it too.
    const minTail = (seq - this.indexCap + 1) | 0;
    if (seqBefore(tail, minTail)) tail = minTail;
    if (tail !== ctl[C_TAIL_SEQ]) Atomics.store(ctl, C_TAIL_SEQ, tail);
    this.resOffset = pos;
    this.resBody = bodyLength;
    return pos + FLV_HEADER;
  }

  /** Abandons the open reservation (an aborted RTMP message). */
  cancel(): void {
    this.resOffset = -1;
  }

  /** Commits the reserved tag; returns its seq. `mark`: an HLS cut mark (0 = none). */
  commit(type: number, timestamp: number, flags: number, mark = 0): number {
    const off = this.resOffset;
    if (off < 0) throw new SluiceError('ERR_INTERNAL', 'ring: commit without reservation');
    const body = this.resBody;
    const total = FLV_HEADER + body + FLV_TRAILER;
    const d = this.data;
    // FLV tag header (FLV spec E.4.1): type, u24 size, u24 ts + u8 ts-ext, u24 stream id 0.
    d[off] = type;
    d[off + 1] = body >>> 16;
    d[off + 2] = body >>> 8;
    d[off + 3] = body;
    d[off + 4] = timestamp >>> 16;
    d[off + 5] = timestamp >>> 8;
    d[off + 6] = timestamp;
    d[off + 7] = timestamp >>> 24;
    d[off + 8] = 0;
    d[off + 9] = 0;
    d[off + 10] = 0;
    const t = off + FLV_HEADER + body;
    const prev = FLV_HEADER + body;
    d[t] = prev >>> 24;
    d[t + 1] = prev >>> 16;
    d[t + 2] = prev >>> 8;
    d[t + 3] = prev;

    const ctl = this.ctl;
    const seq = ctl[C_WRITE_SEQ]!;
    const cum = (ctl[C_CUM_BYTES]! + total) | 0;
    const base = (seq & (this.indexCap - 1)) * SLOT_WORDS;
    const ix = this.index;
    ix[base + S_SEQ] = seq;
    ix[base + S_OFF] = off;
    ix[base + S_LEN] = total;
    ix[base + S_INFO] = (type & 0xff) | ((flags & 0xff) << 8);
    ix[base + S_TS] = timestamp | 0;
    ix[base + S_CUM] = cum;
    ix[base + S_ARRIVAL] = wallMs31();
    ix[base + S_MARK] = mark;
    ctl[C_WRITE_POS] = off + total;
    ctl[C_CUM_BYTES] = cum;
    if (type === VIDEO_TAG && flags & TagFlag.Key && !(flags & TagFlag.SequenceHeader)) {
      Atomics.store(ctl, C_KEY_SEQ, seq);
      Atomics.store(ctl, C_KEY_VALID, 1);
    }
    this.resOffset = -1;
    // Publication point: readers see the record only after this store.
    Atomics.store(ctl, C_WRITE_SEQ, (seq + 1) | 0);
    return seq;
  }

  /** reserve + copy + commit, for bodies already assembled elsewhere. */
  append(type: number, timestamp: number, flags: number, body: Uint8Array, mark = 0): number {
    const at = this.reserve(body.length);
    this.data.set(body, at);
    return this.commit(type, timestamp, flags, mark);
  }

  /** Marks the ring ended; readers on other threads see it with closed(). */
  close(): void {
    Atomics.store(this.ctl, C_CLOSED, 1);
  }

  /** Body bytes of a record read into `v` (a view: copy it before intact() fails). */
  body(v: RecordView): Uint8Array {
    return this.data.subarray(v.offset + FLV_HEADER, v.offset + v.length - FLV_TRAILER);
  }
}

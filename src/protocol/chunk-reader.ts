/**
 * RTMP chunk stream reader (RTMP spec 5.3): a socket-free state machine.
 * `push(bytes)` parses chunks in place; each chunk's payload is copied once
 * into the destination the sink gave for its message (the stream ring for
 * media), so no per-chunk Buffers and no concat. Only a header split
 * across two reads is staged (at most 18 bytes).
 */
import { SluiceError } from '../core/errors.js';
import type { MessageHeader } from './types.js';

export interface ChunkReaderLimits {
  /** Largest Set Chunk Size accepted from the peer. */
  maxChunkSize: number;
  /** Largest message length accepted (checked before any allocation). */
  maxMessageSize: number;
  /** Most chunk streams (csids) one peer may open. */
  maxChunkStreams: number;
}

export const DEFAULT_CHUNK_LIMITS: ChunkReaderLimits = {
  maxChunkSize: 65536,
  maxMessageSize: 16 * 1024 * 1024,
  maxChunkStreams: 64,
};

export interface ChunkSink {
  /** A message starts; return the destination for exactly `h.length` bytes. */
  begin(h: MessageHeader): Uint8Array;
  /** All of the message's payload is in the destination `begin` returned. */
  message(h: MessageHeader, payload: Uint8Array): void;
  /** A partial message was dropped (Abort, or a new header replaced it). */
  abandon(h: MessageHeader, dest: Uint8Array): void;
}

const EXT_TS = 0xffffff;
const MAX_HEADER = 18; // 3 basic + 11 message + 4 extended timestamp
const MSG_HEADER_SIZE = [11, 7, 3, 0] as const;

class ChunkStream {
  timestamp = 0;
  /** Timestamp field of the last header: after fmt 0 it is absolute (as ffmpeg/SRS treat it). */
  delta = 0;
  length = 0;
  type = 0;
  streamId = 0;
  /** The last header carried an extended timestamp, so type-3 chunks repeat it. */
  extended = false;
  extValue = 0;
  received = 0;
  header: MessageHeader | null = null;
  dest: Uint8Array | null = null;
  constructor(readonly csid: number) {}
}

export class ChunkReader {
  private chunkSize = 128; // RTMP spec 5.4.1: default 128
  private readonly low: (ChunkStream | undefined)[] = [];
  private readonly high = new Map<number, ChunkStream>();
  private streams = 0;
  private readonly stage = new Uint8Array(MAX_HEADER);
  private staged = 0;
  /** Stream whose chunk payload is being read, and bytes left in that chunk. */
  private cur: ChunkStream | null = null;
  private chunkLeft = 0;
  /** Header fields parsed by parseHeader (avoids allocating per chunk). */
  private hFmt = 0;
  private hCs: ChunkStream | null = null;
  private hTs = 0;
  private hLen = 0;
  private hType = 0;
  private hSid = 0;
  private hExt = false;
  private hExtValue = 0;
  /** A type-3 continuation whose 4 "extended timestamp" bytes were really payload. */
  private hExtIsPayload = false;

  constructor(
    private readonly sink: ChunkSink,
    private readonly limits: ChunkReaderLimits = DEFAULT_CHUNK_LIMITS,
  ) {}

  /** Applies the peer's Set Chunk Size (effective from the next chunk). */
  setChunkSize(size: number): void {
    // RTMP spec 5.4.1: 31-bit value, >= 1; we also bound it.
    if (size < 1 || size > this.limits.maxChunkSize) {
      throw new SluiceError('ERR_CHUNK_SIZE', `set chunk size ${size} outside 1..${this.limits.maxChunkSize}`);
    }
    this.chunkSize = size;
  }

  getChunkSize(): number {
    return this.chunkSize;
  }

  /**
   * The sink moved a partial message (its bytes so far copied into `to`,
   * of the same length): the rest of it is read into `to`. False if no
   * chunk stream was assembling into `from`.
   */
  moveDestination(from: Uint8Array, to: Uint8Array): boolean {
    if (to.length !== from.length) throw new SluiceError('ERR_INTERNAL', `moved message destination of ${from.length} bytes to ${to.length}`);
    return this.someStream((cs) => {
      if (cs.dest !== from) return false;
      cs.dest = to;
      return true;
    });
  }

  /** Some chunk stream holds a message begun but not complete (for the session's receive-rate floor; not on the hot path). */
  hasPartialMessage(): boolean {
    return this.someStream((cs) => cs.header !== null);
  }

  /** Whether `f` holds for some open chunk stream (stops at the first). */
  private someStream(f: (cs: ChunkStream) => boolean): boolean {
    if (this.low.some((cs) => cs !== undefined && f(cs))) return true;
    for (const cs of this.high.values()) if (f(cs)) return true;
    return false;
  }

  /** Abort Message (RTMP spec 5.4.2): drop the partial message on `csid`. */
  abort(csid: number): void {
    const cs = this.lookup(csid);
    if (cs && cs.header) this.drop(cs);
  }

  push(buf: Uint8Array): void {
    let pos = 0;
    const end = buf.length;
    while (pos < end) {
      if (this.cur) {
        pos = this.readPayload(buf, pos, end);
        continue;
      }
      let used: number;
      if (this.staged > 0) {
        // Top up the staged header bytes and try again from the stage.
        const take = Math.min(MAX_HEADER - this.staged, end - pos);
        this.stage.set(buf.subarray(pos, pos + take), this.staged);
        const avail = this.staged + take;
        const n = this.parseHeader(this.stage, 0, avail);
        if (n < 0) {
          this.staged = avail;
          return;
        }
        used = n - this.staged;
        this.staged = 0;
      } else {
        used = this.parseHeader(buf, pos, end - pos);
        if (used < 0) {
          this.stage.set(buf.subarray(pos, end), 0);
          this.staged = end - pos;
          return;
        }
      }
      pos += used;
      this.applyHeader();
      if (this.hExtIsPayload) {
        // The 4 bytes we took as an extended timestamp belong to the payload.
        this.hExtIsPayload = false;
        const fake = new Uint8Array(4);
        fake[0] = this.hExtValue >>> 24;
        fake[1] = this.hExtValue >>> 16;
        fake[2] = this.hExtValue >>> 8;
        fake[3] = this.hExtValue;
        this.readPayload(fake, 0, 4);
      }
    }
  }

  /**
   * Parses one chunk header from src[off, off+avail). Returns bytes used,
   * or -1 when more bytes are needed. Mutates no stream state.
   */
  private parseHeader(src: Uint8Array, off: number, avail: number): number {
    const b0 = src[off]!;
    const fmt = b0 >>> 6;
    let csid = b0 & 0x3f;
    let p = 1;
    // RTMP spec 5.3.1.1: csid 0 -> 2-byte form (64..319), 1 -> 3-byte form (64..65599).
    if (csid === 0) {
      if (avail < 2) return -1;
      csid = 64 + src[off + 1]!;
      p = 2;
    } else if (csid === 1) {
      if (avail < 3) return -1;
      csid = 64 + src[off + 1]! + src[off + 2]! * 256;
      p = 3;
    }
    const mh = MSG_HEADER_SIZE[fmt]!;
    if (avail < p + mh) return -1;
    const cs = this.lookup(csid);
    if (!cs && fmt !== 0) {
      throw new SluiceError('ERR_CHUNK', `chunk stream ${csid}: fmt ${fmt} header on a stream never opened by fmt 0`);
    }
    this.hFmt = fmt;
    this.hCs = cs ?? null;
    let q = off + p;
    let tsField = 0;
    if (fmt <= 2) {
      tsField = (src[q]! << 16) | (src[q + 1]! << 8) | src[q + 2]!;
      q += 3;
    }
    if (fmt <= 1) {
      this.hLen = (src[q]! << 16) | (src[q + 1]! << 8) | src[q + 2]!;
      this.hType = src[q + 3]!;
      q += 4;
    }
    if (fmt === 0) {
      // Message stream id is little-endian (RTMP spec 5.3.1.2.1).
      this.hSid = (src[q]! | (src[q + 1]! << 8) | (src[q + 2]! << 16)) + src[q + 3]! * 0x1000000;
      q += 4;
    }
    let used = p + mh;
    this.hExt = false;
    this.hExtIsPayload = false;
    if (fmt <= 2) {
      if (tsField === EXT_TS) {
        if (avail < used + 4) return -1;
        this.hExt = true;
        this.hExtValue = readU32(src, q);
        used += 4;
      } else {
        this.hTs = tsField;
      }
      if (this.hExt) this.hTs = this.hExtValue;
    } else if (cs && cs.extended) {
      // Type 3 after an extended timestamp repeats it (RTMP spec 5.3.1.3).
      if (avail < used + 4) return -1;
      const v = readU32(src, q);
      used += 4;
      this.hExt = true;
      this.hExtValue = v;
      // Some encoders omit the repetition on continuation chunks: if the
      // bytes do not match (and the chunk is long enough to hold them), they
      // were payload.
      const left = Math.min(this.chunkSize, cs.length - cs.received);
      if (cs.header && v !== cs.extValue && left >= 4) this.hExtIsPayload = true;
    }
    if (!cs) this.hCs = this.open(csid);
    return used;
  }

  /** Applies the parsed header to its chunk stream and starts the chunk. */
  private applyHeader(): void {
    const fmt = this.hFmt;
    const cs = this.hCs!;
    if (fmt !== 3 || !cs.header) {
      if (cs.header) this.drop(cs); // a new header replaces a partial message
      switch (fmt) {
        case 0:
          cs.timestamp = this.hTs;
          cs.delta = this.hTs;
          cs.length = this.hLen;
          cs.type = this.hType;
          cs.streamId = this.hSid;
          cs.extended = this.hExt;
          break;
        case 1:
          cs.delta = this.hTs;
          cs.timestamp = (cs.timestamp + cs.delta) >>> 0;
          cs.length = this.hLen;
          cs.type = this.hType;
          cs.extended = this.hExt;
          break;
        case 2:
          cs.delta = this.hTs;
          cs.timestamp = (cs.timestamp + cs.delta) >>> 0;
          cs.extended = this.hExt;
          break;
        default:
          // Type 3 starting a message: same header, timestamp advances by the last delta.
          cs.timestamp = (cs.timestamp + cs.delta) >>> 0;
      }
      if (cs.extended) cs.extValue = fmt === 3 ? cs.extValue : this.hExtValue;
      if (cs.length > this.limits.maxMessageSize) {
        throw new SluiceError(
          'ERR_MESSAGE_TOO_LARGE',
          `chunk stream ${cs.csid}: message length ${cs.length} over limit ${this.limits.maxMessageSize}`,
        );
      }
      const h: MessageHeader = {
        csid: cs.csid,
        type: cs.type,
        timestamp: cs.timestamp,
        length: cs.length,
        streamId: cs.streamId,
      };
      cs.received = 0;
      cs.header = h;
      cs.dest = this.sink.begin(h);
      if (cs.length === 0) {
        this.finish(cs);
        return;
      }
    }
    this.cur = cs;
    this.chunkLeft = Math.min(this.chunkSize, cs.length - cs.received);
  }

  private readPayload(buf: Uint8Array, pos: number, end: number): number {
    const cs = this.cur!;
    const n = Math.min(this.chunkLeft, end - pos);
    cs.dest!.set(n === end - pos && pos === 0 ? buf : buf.subarray(pos, pos + n), cs.received);
    cs.received += n;
    this.chunkLeft -= n;
    if (this.chunkLeft === 0) {
      this.cur = null;
      if (cs.received === cs.length) this.finish(cs);
    }
    return pos + n;
  }

  private finish(cs: ChunkStream): void {
    const h = cs.header!;
    const payload = cs.dest!;
    cs.header = null;
    cs.dest = null;
    cs.received = 0;
    this.sink.message(h, payload);
  }

  private drop(cs: ChunkStream): void {
    const h = cs.header!;
    const dest = cs.dest!;
    cs.header = null;
    cs.dest = null;
    cs.received = 0;
    if (this.cur === cs) this.cur = null;
    this.sink.abandon(h, dest);
  }

  private open(csid: number): ChunkStream {
    if (this.streams >= this.limits.maxChunkStreams) {
      throw new SluiceError('ERR_LIMIT', `too many chunk streams: ${this.streams + 1} > ${this.limits.maxChunkStreams}`);
    }
    const cs = new ChunkStream(csid);
    if (csid < 320) this.low[csid] = cs;
    else this.high.set(csid, cs);
    this.streams++;
    return cs;
  }

  private lookup(csid: number): ChunkStream | undefined {
    return csid < 320 ? this.low[csid] : this.high.get(csid);
  }
}

function readU32(src: Uint8Array, q: number): number {
  return src[q]! * 0x1000000 + ((src[q + 1]! << 16) | (src[q + 2]! << 8) | src[q + 3]!);
}

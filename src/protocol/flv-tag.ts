import { SluiceError } from '../core/errors.js';
import { TagType } from './types.js';

/**
 * FLV file structure (FLV spec v10.1, annex E.2 - E.4): a 9-byte header,
 * then PreviousTagSize0 (always 0), then tags, each followed by its own
 * PreviousTagSize (= 11 + DataSize).
 *
 *   46 4c 56 01 05 00000009 | 00000000 | tag | PreviousTagSize | tag | ...
 *   'F' 'L' 'V' v1 flags DataOffset
 *
 * HTTP-FLV and WS-FLV are exactly this byte stream, sent live.
 */

export const FLV_HEADER_SIZE = 9;
/** FLV tag header: TagType, DataSize, Timestamp, TimestampExtended, StreamID. */
export const TAG_HEADER_SIZE = 11;
/** The UI32 PreviousTagSize that follows the header and every tag. */
export const PREV_TAG_SIZE = 4;
/** DataSize is a UI24 (E.4.1). */
export const MAX_TAG_DATA_SIZE = 0xffffff;
/** Default FlvDemuxer limit on one tag's DataSize (config key `flv.maxTagSize`). */
export const DEFAULT_MAX_TAG_SIZE = 8 * 1024 * 1024;
/** Largest DataOffset accepted: v1 headers are 9 bytes; the field exists for longer future ones. */
export const MAX_FLV_HEADER_SIZE = 1024;

/** TypeFlags bits of the FLV header (E.2). */
const FLAG_AUDIO = 0x04;
const FLAG_VIDEO = 0x01;

/** The 9-byte FLV header plus PreviousTagSize0 (13 bytes), what an HTTP-FLV response starts with. */
export function flvFileHeader(has: { audio: boolean; video: boolean }): Buffer {
  const b = Buffer.alloc(FLV_HEADER_SIZE + PREV_TAG_SIZE);
  b[0] = 0x46; // 'F'
  b[1] = 0x4c; // 'L'
  b[2] = 0x56; // 'V'
  b[3] = 1; // version
  b[4] = (has.audio ? FLAG_AUDIO : 0) | (has.video ? FLAG_VIDEO : 0);
  b[8] = FLV_HEADER_SIZE; // DataOffset UI32 = 9; bytes 9..12 (PreviousTagSize0) stay 0
  return b;
}

/**
 * Writes an 11-byte tag header at dst[off]; returns the offset after it.
 * The timestamp is 32-bit ms split as E.4.1 says: the low 24 bits, then
 * TimestampExtended holding bits 24..31 - e.g. 0x12345678 -> `345678 12`.
 * StreamID is always 0.
 */
export function writeTagHeader(dst: Uint8Array, off: number, type: number, dataSize: number, timestamp: number): number {
  if (dataSize < 0 || dataSize > MAX_TAG_DATA_SIZE) {
    throw new SluiceError('ERR_FLV', `tag DataSize ${dataSize} does not fit in 24 bits`);
  }
  const ts = timestamp >>> 0;
  dst[off] = type & 0x1f;
  dst[off + 1] = dataSize >>> 16;
  dst[off + 2] = (dataSize >>> 8) & 0xff;
  dst[off + 3] = dataSize & 0xff;
  dst[off + 4] = (ts >>> 16) & 0xff;
  dst[off + 5] = (ts >>> 8) & 0xff;
  dst[off + 6] = ts & 0xff;
  dst[off + 7] = ts >>> 24; // TimestampExtended
  dst[off + 8] = 0; // StreamID UI24
  dst[off + 9] = 0;
  dst[off + 10] = 0;
  return off + TAG_HEADER_SIZE;
}

/** Writes a big-endian UI32 PreviousTagSize at dst[off]; returns the offset after it. */
export function writePrevTagSize(dst: Uint8Array, off: number, size: number): number {
  dst[off] = size >>> 24;
  dst[off + 1] = (size >>> 16) & 0xff;
  dst[off + 2] = (size >>> 8) & 0xff;
  dst[off + 3] = size & 0xff;
  return off + PREV_TAG_SIZE;
}

export interface TagHeader {
  /** TagType (low 5 bits of the first byte). */
  type: number;
  dataSize: number;
  /** Full 32-bit timestamp (TimestampExtended << 24 | Timestamp). */
  timestamp: number;
  /** The first byte's upper bits: Reserved (0xc0) and Filter (0x20, encrypted). */
  flags: number;
  streamId: number;
}

/** Reads an 11-byte tag header at src[off]. Field values are not validated (FlvDemuxer does that). */
export function readTagHeader(src: Uint8Array, off: number): TagHeader {
  if (src.length - off < TAG_HEADER_SIZE) {
    throw new SluiceError('ERR_FLV', `tag header: need ${TAG_HEADER_SIZE} bytes, have ${src.length - off}`);
  }
  const b0 = src[off]!;
  return {
    type: b0 & 0x1f,
    flags: b0 & 0xe0,
    dataSize: (src[off + 1]! << 16) | (src[off + 2]! << 8) | src[off + 3]!,
    timestamp: src[off + 7]! * 0x1000000 + ((src[off + 4]! << 16) | (src[off + 5]! << 8) | src[off + 6]!),
    streamId: (src[off + 8]! << 16) | (src[off + 9]! << 8) | src[off + 10]!,
  };
}

function readU32(src: Uint8Array, off: number): number {
  return src[off]! * 0x1000000 + ((src[off + 1]! << 16) | (src[off + 2]! << 8) | src[off + 3]!);
}

/** One whole tag as a single owned Buffer: header + data + PreviousTagSize. */
export function encodeTag(type: number, timestamp: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(TAG_HEADER_SIZE + data.length + PREV_TAG_SIZE);
  const off = writeTagHeader(out, 0, type, data.length, timestamp);
  out.set(data, off);
  writePrevTagSize(out, off + data.length, TAG_HEADER_SIZE + data.length);
  return out;
}

/** A demuxed tag. `data` is owned by the caller (never a view of a pushed chunk). */
export interface FlvTag {
  type: number;
  timestamp: number;
  data: Uint8Array;
}

export interface FlvDemuxerOptions {
  /** Largest DataSize accepted, checked before the tag's buffer is allocated. */
  maxTagSize?: number;
  /**
   * A tag wholly inside one push gets a view of the pushed bytes instead of
   * a copy (valid while they are); only a tag split across pushes is
   * copied. For a reader that is done with the tags before it reuses its
   * buffer (the load generator's players). Default false.
   */
  views?: boolean;
}

type State = 'header' | 'header-extra' | 'prev-tag-size' | 'tag-header' | 'tag-data';

const EMPTY_DATA: Uint8Array = Buffer.alloc(0);

/**
 * Socket-free FLV stream parser: push any slice of the byte stream, get
 * the tags completed by it. Fixed-size fields (header, PreviousTagSize,
 * tag header) that straddle two pushes are staged in a 16-byte buffer;
 * tag data is copied once into the tag's own buffer (or, with `views`, left
 * in place when the push holds all of it).
 *
 * Garbage ends the stream: the first error is thrown and rethrown by
 * every later push.
 */
export class FlvDemuxer {
  /** Header TypeFlags once the header is parsed. */
  hasAudio = false;
  hasVideo = false;
  /** Bytes consumed so far (the stream offset errors point at). */
  offset = 0;

  private readonly maxTagSize: number;
  private readonly views: boolean;
  private state: State = 'header';
  private readonly stage = new Uint8Array(16);
  private staged = 0;
  private headerExtra = 0;
  /** What the next PreviousTagSize must say: 0 first, then 11 + DataSize. */
  private expectedPrev = 0;
  private tag: FlvTag | null = null;
  private filled = 0;
  /** Stream offset where the field being parsed starts. */
  private fieldAt = 0;
  private failed: SluiceError | null = null;

  constructor(opts: FlvDemuxerOptions = {}) {
    this.maxTagSize = Math.min(opts.maxTagSize ?? DEFAULT_MAX_TAG_SIZE, MAX_TAG_DATA_SIZE);
    this.views = opts.views ?? false;
  }

  push(bytes: Uint8Array): FlvTag[] {
    if (this.failed) throw this.failed;
    const out: FlvTag[] = [];
    try {
      this.run(bytes, out);
    } catch (err) {
      this.failed = err instanceof SluiceError ? err : new SluiceError('ERR_FLV', 'flv demux', { cause: err });
      throw this.failed;
    }
    return out;
  }

  /** Declares the end of the stream; throws if it stopped inside a header or tag. */
  end(): void {
    if (this.failed) throw this.failed;
    if (this.state !== 'tag-header' || this.staged !== 0) {
      const where = this.state === 'tag-data' ? `tag data (${this.filled} of ${this.expectedPrev - TAG_HEADER_SIZE} bytes)` : this.state;
      throw new SluiceError('ERR_FLV', `stream ends inside ${where} (at stream offset ${this.offset})`);
    }
  }

  private fail(msg: string): SluiceError {
    return new SluiceError('ERR_FLV', `${msg} (at stream offset ${this.fieldAt})`);
  }

  /** Bytes the current fixed-size state needs. */
  private fieldSize(): number {
    switch (this.state) {
      case 'header': return FLV_HEADER_SIZE;
      case 'prev-tag-size': return PREV_TAG_SIZE;
      case 'tag-header': return TAG_HEADER_SIZE;
      default: return 0;
    }
  }

  private run(src: Uint8Array, out: FlvTag[]): void {
    let pos = 0;
    const end = src.length;
    while (pos < end) {
      if (this.state === 'tag-data') {
        const tag = this.tag!;
        const size = this.expectedPrev - TAG_HEADER_SIZE;
        if (this.filled === 0) {
          if (this.views && end - pos >= size) {
            tag.data = src.subarray(pos, pos + size);
            pos += size;
            this.offset += size;
            this.finishTag(out);
            continue;
          }
          tag.data = Buffer.allocUnsafe(size);
        }
        const n = Math.min(end - pos, size - this.filled);
        tag.data.set(src.subarray(pos, pos + n), this.filled);
        this.filled += n;
        pos += n;
        this.offset += n;
        if (this.filled === tag.data.length) this.finishTag(out);
        continue;
      }
      if (this.state === 'header-extra') {
        const n = Math.min(end - pos, this.headerExtra);
        this.headerExtra -= n;
        pos += n;
        this.offset += n;
        if (this.headerExtra === 0) this.state = 'prev-tag-size';
        continue;
      }
      // Fixed-size field: parse in place when whole, else stage it.
      const size = this.fieldSize();
      if (this.staged === 0 && end - pos >= size) {
        this.fieldAt = this.offset;
        this.field(src, pos, out);
        pos += size;
        this.offset += size;
        continue;
      }
      if (this.staged === 0) this.fieldAt = this.offset;
      const n = Math.min(end - pos, size - this.staged);
      this.stage.set(src.subarray(pos, pos + n), this.staged);
      this.staged += n;
      pos += n;
      this.offset += n;
      if (this.staged === size) {
        this.staged = 0;
        this.field(this.stage, 0, out);
      }
    }
  }

  /** Consumes one whole fixed-size field at buf[off]. */
  private field(buf: Uint8Array, off: number, out: FlvTag[]): void {
    switch (this.state) {
      case 'header': {
        // 'F' 'L' 'V' 0x01: anything else is not an FLV stream (an HTML error page, a TS, ...).
        if (buf[off] !== 0x46 || buf[off + 1] !== 0x4c || buf[off + 2] !== 0x56) {
          const hex = Buffer.from(buf.subarray(off, off + 3)).toString('hex');
          throw this.fail(`bad FLV signature ${hex}, expected 464c56 ('FLV')`);
        }
        if (buf[off + 3] !== 1) throw this.fail(`unsupported FLV version ${buf[off + 3]}`);
        const flags = buf[off + 4]!;
        this.hasAudio = (flags & FLAG_AUDIO) !== 0;
        this.hasVideo = (flags & FLAG_VIDEO) !== 0;
        const dataOffset = readU32(buf, off + 5);
        if (dataOffset < FLV_HEADER_SIZE || dataOffset > MAX_FLV_HEADER_SIZE) {
          throw this.fail(`FLV header DataOffset ${dataOffset} outside ${FLV_HEADER_SIZE}..${MAX_FLV_HEADER_SIZE}`);
        }
        this.headerExtra = dataOffset - FLV_HEADER_SIZE;
        this.state = this.headerExtra > 0 ? 'header-extra' : 'prev-tag-size';
        return;
      }
      case 'prev-tag-size': {
        const prev = readU32(buf, off);
        if (prev !== this.expectedPrev) {
          throw this.fail(`PreviousTagSize ${prev}, expected ${this.expectedPrev}`);
        }
        this.state = 'tag-header';
        return;
      }
      case 'tag-header': {
        const h = readTagHeader(buf, off);
        if (h.flags & 0x20) throw this.fail('encrypted tag (Filter bit set) is not supported');
        if (h.flags !== 0) throw this.fail(`tag header reserved bits set: ${buf[off]!.toString(16)}`);
        if (h.type !== TagType.Audio && h.type !== TagType.Video && h.type !== TagType.Script) {
          throw this.fail(`unknown TagType ${h.type}`);
        }
        if (h.streamId !== 0) throw this.fail(`tag StreamID ${h.streamId}, must be 0`);
        if (h.dataSize > this.maxTagSize) {
          throw this.fail(`tag DataSize ${h.dataSize} exceeds limit ${this.maxTagSize}`);
        }
        // The data's buffer comes with its first byte (tag-data), where it may be a view instead.
        this.tag = { type: h.type, timestamp: h.timestamp, data: EMPTY_DATA };
        this.filled = 0;
        this.expectedPrev = TAG_HEADER_SIZE + h.dataSize;
        this.state = 'tag-data';
        if (h.dataSize === 0) this.finishTag(out);
        return;
      }
      default:
        throw this.fail(`internal: no fixed field in state ${this.state}`);
    }
  }

  /** A tag's data is complete (also reached at once for DataSize 0). */
  private finishTag(out: FlvTag[]): void {
    out.push(this.tag!);
    this.tag = null;
    this.state = 'prev-tag-size';
  }
}

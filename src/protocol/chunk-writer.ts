/**
 * RTMP chunk stream writer (RTMP spec 5.3). Messages are sized first and
 * written straight into one Buffer: a fmt 0/1/2 first chunk then fmt 3
 * continuations, the extended timestamp repeated on every chunk as ffmpeg,
 * librtmp and OBS expect.
 *
 * `encodeMessage` is stateless (always fmt 0): fan-out egress uses it so
 * the same bytes are valid for every player. `ChunkWriter` compresses
 * headers per chunk stream (fmt 1/2/3) for a session's own messages.
 */
import { SluiceError } from '../core/errors.js';
import type { MessageHeader } from './types.js';

const EXT_TS = 0xffffff;
const MSG_HEADER_SIZE = [11, 7, 3, 0] as const;

export function basicHeaderSize(csid: number): number {
  if (csid < 2 || csid > 65599) throw new SluiceError('ERR_CHUNK', `chunk stream id ${csid} out of range 2..65599`);
  return csid < 64 ? 1 : csid < 320 ? 2 : 3;
}

/** Total bytes of `length` payload bytes chunked with a first header of `fmt`. */
export function chunkedSize(csid: number, fmt: number, length: number, tsField: number, chunkSize: number): number {
  const basic = basicHeaderSize(csid);
  const ext = tsField >= EXT_TS ? 4 : 0;
  const chunks = length === 0 ? 1 : Math.ceil(length / chunkSize);
  return basic + MSG_HEADER_SIZE[fmt]! + ext + (chunks - 1) * (basic + ext) + length;
}

function writeBasic(dst: Uint8Array, p: number, fmt: number, csid: number): number {
  if (csid < 64) {
    dst[p] = (fmt << 6) | csid;
    return p + 1;
  }
  if (csid < 320) {
    dst[p] = fmt << 6;
    dst[p + 1] = csid - 64;
    return p + 2;
  }
  dst[p] = (fmt << 6) | 1;
  dst[p + 1] = (csid - 64) & 0xff;
  dst[p + 2] = (csid - 64) >>> 8;
  return p + 3;
}

function writeU32(dst: Uint8Array, p: number, v: number): void {
  dst[p] = v >>> 24;
  dst[p + 1] = v >>> 16;
  dst[p + 2] = v >>> 8;
  dst[p + 3] = v;
}

/**
 * Writes one message as chunks into dst at `off`; returns the end offset.
 * `tsField` is the absolute timestamp for fmt 0, the delta for fmt 1/2
 * (ignored for fmt 3, which must pass the value whose extended form the
 * stream last carried).
 */
export function writeChunks(
  dst: Uint8Array,
  off: number,
  fmt: number,
  h: MessageHeader,
  tsField: number,
  payload: Uint8Array,
  chunkSize: number,
): number {
  const ext = tsField >= EXT_TS;
  const ts24 = ext ? EXT_TS : tsField;
  let p = writeBasic(dst, off, fmt, h.csid);
  if (fmt <= 2) {
    dst[p] = ts24 >>> 16;
    dst[p + 1] = ts24 >>> 8;
    dst[p + 2] = ts24;
    p += 3;
  }
  if (fmt <= 1) {
    dst[p] = h.length >>> 16;
    dst[p + 1] = h.length >>> 8;
    dst[p + 2] = h.length;
    dst[p + 3] = h.type;
    p += 4;
  }
  if (fmt === 0) {
    // Message stream id: little-endian (RTMP spec 5.3.1.2.1).
    dst[p] = h.streamId;
    dst[p + 1] = h.streamId >>> 8;
    dst[p + 2] = h.streamId >>> 16;
    dst[p + 3] = h.streamId >>> 24;
    p += 4;
  }
  if (ext) {
    writeU32(dst, p, tsField);
    p += 4;
  }
  const len = payload.length;
  let done = 0;
  for (;;) {
    const n = Math.min(chunkSize, len - done);
    dst.set(payload.subarray(done, done + n), p);
    p += n;
    done += n;
    if (done >= len) break;
    p = writeBasic(dst, p, 3, h.csid);
    if (ext) {
      writeU32(dst, p, tsField);
      p += 4;
    }
  }
  return p;
}

/** One message as fmt 0 chunks in a fresh Buffer (the shared egress form). */
export function encodeMessage(h: MessageHeader, payload: Uint8Array, chunkSize: number): Buffer {
  const ts = h.timestamp >>> 0;
  const out = Buffer.allocUnsafe(chunkedSize(h.csid, 0, payload.length, ts, chunkSize));
  writeChunks(out, 0, 0, { ...h, length: payload.length }, ts, payload, chunkSize);
  return out;
}

interface LastHeader {
  timestamp: number;
  delta: number;
  length: number;
  type: number;
  streamId: number;
  tsField: number;
}

/** Session writer with per-chunk-stream header compression. */
export class ChunkWriter {
  private readonly last = new Map<number, LastHeader>();

  constructor(public chunkSize = 128) {}

  /** Chooses the smallest header the receiver can reconstruct (RTMP spec 5.3.1.2). */
  encode(h: MessageHeader, payload: Uint8Array): Buffer {
    const prev = this.last.get(h.csid);
    const ts = h.timestamp >>> 0;
    let fmt = 0;
    let tsField = ts;
    if (prev && prev.streamId === h.streamId && ts >= prev.timestamp) {
      const delta = ts - prev.timestamp;
      if (prev.length === payload.length && prev.type === h.type) {
        // fmt 3 only when the receiver's "repeat last delta" gives the same
        // timestamp and the extended-timestamp state carries over unchanged.
        fmt = delta === prev.delta && (prev.tsField >= EXT_TS) === (delta >= EXT_TS) ? 3 : 2;
      } else {
        fmt = 1;
      }
      tsField = fmt === 3 ? prev.tsField : delta;
    }
    const out = Buffer.allocUnsafe(chunkedSize(h.csid, fmt, payload.length, tsField, this.chunkSize));
    writeChunks(out, 0, fmt, { ...h, length: payload.length }, tsField, payload, this.chunkSize);
    this.last.set(h.csid, {
      timestamp: ts,
      delta: fmt === 0 ? ts : fmt === 3 ? prev!.delta : tsField,
      length: payload.length,
      type: h.type,
      streamId: h.streamId,
      tsField,
    });
    return out;
  }

  /** Forget compression state (after our own Set Chunk Size nothing changes; after a reconnect all does). */
  reset(): void {
    this.last.clear();
  }
}

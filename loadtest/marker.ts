/**
 * The frame marker: what a synthetic publisher stamps into each frame so a
 * player can tell which stream and frame it got and when that frame was
 * due. A fixed 40-byte layout, all big-endian:
 *
 *   0   16  magic      a fixed UUID (also the SEI user_data_unregistered uuid)
 *   16  1   version    1
 *   17  1   kind       0 video, 1 audio
 *   18  2   reserved   0
 *   20  4   stream     publisher index (u32)
 *   24  4   seq        frame number of this kind on this stream (u32)
 *   28  8   scheduled  wall-clock ms (Unix epoch, f64) the frame was due to be sent
 *   36  4   check      FNV-1a 32 of bytes 16..35
 *
 * A player searches a payload for the magic and accepts the marker only
 * if the version and the check match, so media bytes that happen to hold
 * the magic (or a truncated copy) are rejected.
 */

export const MARKER_SIZE = 40;
export const MARKER_VERSION = 1;

/** 16 random bytes, fixed for ever: "sluice loadtest marker". */
export const MARKER_MAGIC = Buffer.from('5c0a7e3b9d1f4e62a8c4b3e6f0d29a71', 'hex');

export const MarkerKind = { Video: 0, Audio: 1 } as const;
export type MarkerKind = (typeof MarkerKind)[keyof typeof MarkerKind];

export interface Marker {
  kind: MarkerKind;
  stream: number;
  seq: number;
  /** Wall-clock ms (Unix epoch) the frame was scheduled for. */
  scheduledMs: number;
}

const MAGIC_LEN = MARKER_MAGIC.length;
const CHECK_AT = 36;

function fnv1a(buf: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    h ^= buf[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Writes the marker at dst[off..off+40); returns the offset after it. */
export function writeMarker(dst: Uint8Array, off: number, m: Marker): number {
  if (dst.length - off < MARKER_SIZE) throw new RangeError(`marker needs ${MARKER_SIZE} bytes at ${off}, have ${dst.length - off}`);
  const view = new DataView(dst.buffer, dst.byteOffset + off, MARKER_SIZE);
  dst.set(MARKER_MAGIC, off);
  view.setUint8(16, MARKER_VERSION);
  view.setUint8(17, m.kind);
  view.setUint16(18, 0);
  view.setUint32(20, m.stream >>> 0);
  view.setUint32(24, m.seq >>> 0);
  view.setFloat64(28, m.scheduledMs);
  view.setUint32(CHECK_AT, fnv1a(dst, off + MAGIC_LEN, off + CHECK_AT));
  return off + MARKER_SIZE;
}

export function encodeMarker(m: Marker): Buffer {
  const out = Buffer.allocUnsafe(MARKER_SIZE);
  writeMarker(out, 0, m);
  return out;
}

/** The marker at src[off], or undefined when the bytes there are not a valid one. */
export function decodeMarker(src: Uint8Array, off = 0): Marker | undefined {
  if (off < 0 || src.length - off < MARKER_SIZE) return undefined;
  for (let i = 0; i < MAGIC_LEN; i++) if (src[off + i] !== MARKER_MAGIC[i]) return undefined;
  const view = new DataView(src.buffer, src.byteOffset + off, MARKER_SIZE);
  if (view.getUint8(16) !== MARKER_VERSION) return undefined;
  if (view.getUint32(CHECK_AT) !== fnv1a(src, off + MAGIC_LEN, off + CHECK_AT)) return undefined;
  const kind = view.getUint8(17);
  if (kind !== MarkerKind.Video && kind !== MarkerKind.Audio) return undefined;
  const scheduledMs = view.getFloat64(28);
  if (!Number.isFinite(scheduledMs)) return undefined;
  return { kind, stream: view.getUint32(20), seq: view.getUint32(24), scheduledMs };
}

/**
 * The first valid marker in `payload`, searching from `from`. Synthetic
 * frames have it within the first few bytes, so the search ends early.
 */
export function findMarker(payload: Uint8Array, from = 0): Marker | undefined {
  const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  for (let at = buf.indexOf(MARKER_MAGIC, from); at >= 0; at = buf.indexOf(MARKER_MAGIC, at + 1)) {
    const m = decodeMarker(buf, at);
    if (m) return m;
  }
  return undefined;
}

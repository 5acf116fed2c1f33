import { SluiceError } from '../core/errors.js';

/**
 * A generic ISO BMFF box writer (ISO/IEC 14496-12 4.2): a box is
 * `size u32 | type 4cc | [version u8 | flags u24] | body`. Boxes are built
 * as a tree of byte pieces whose sizes are known up front, then written in
 * one pass into one allocation; sample data is referenced, never copied
 * until that final write.
 */

/** A piece of a box body: raw bytes or a child box. */
export type Part = Uint8Array | Box;

export interface Box {
  readonly type: string;
  /** Bytes of the whole box, header included. */
  readonly size: number;
  /** Version and flags of a full box; undefined for a plain box. */
  readonly full?: { version: number; flags: number };
  readonly parts: readonly Part[];
}

const HEADER = 8;
const FULL_HEADER = 12;
/** Largest size a 32-bit box header can hold; media segments stay far below it (no largesize). */
const MAX_BOX_SIZE = 0xffffffff;

const partSize = (p: Part): number => (p instanceof Uint8Array ? p.length : p.size);

function make(type: string, head: number, parts: Part[], full?: Box['full']): Box {
  if (!/^[\x20-\x7e]{4}$/.test(type)) throw new SluiceError('ERR_INTERNAL', `mp4: box type '${type}' is not a four-character code`);
  let size = head;
  for (const p of parts) size += partSize(p);
  if (size > MAX_BOX_SIZE) throw new SluiceError('ERR_LIMIT', `mp4: '${type}' box of ${size} bytes exceeds 4 GiB`);
  return full ? { type, size, full, parts } : { type, size, parts };
}

export function box(type: string, ...parts: Part[]): Box {
  return make(type, HEADER, parts);
}

export function fullBox(type: string, version: number, flags: number, ...parts: Part[]): Box {
  if (version < 0 || version > 0xff || flags < 0 || flags > 0xffffff) {
    throw new SluiceError('ERR_INTERNAL', `mp4: '${type}' version ${version} / flags ${flags} out of range`);
  }
  return make(type, FULL_HEADER, parts, { version, flags });
}

function checked(v: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new SluiceError('ERR_LIMIT', `mp4: ${what} ${v} does not fit (0..${max})`);
  return v;
}

/** Big-endian unsigned fields, each range-checked (a wrap-around would write a wrong but plausible box). */
export function u8(...values: number[]): Uint8Array {
  return Uint8Array.from(values, (v) => checked(v, 0xff, 'u8'));
}

export function u16(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  values.forEach((v, i) => {
    checked(v, 0xffff, 'u16');
    out[i * 2] = v >>> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

export function u32(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint32(i * 4, checked(v, 0xffffffff, 'u32')));
  return out;
}

/** 64-bit unsigned as two u32 halves; exact up to 2^53 (JS number range). */
export function u64(v: number): Uint8Array {
  checked(v, Number.MAX_SAFE_INTEGER, 'u64');
  return u32(Math.floor(v / 0x100000000), v % 0x100000000);
}

/** Four-character codes (brands, handler types) as bytes. */
export function fourCC(...codes: string[]): Uint8Array {
  const out = new Uint8Array(codes.length * 4);
  codes.forEach((c, i) => {
    if (!/^[\x20-\x7e]{4}$/.test(c)) throw new SluiceError('ERR_INTERNAL', `mp4: '${c}' is not a four-character code`);
    for (let j = 0; j < 4; j++) out[i * 4 + j] = c.charCodeAt(j);
  });
  return out;
}

function write(dst: Uint8Array, dv: DataView, off: number, b: Box): number {
  dv.setUint32(off, b.size);
  for (let j = 0; j < 4; j++) dst[off + 4 + j] = b.type.charCodeAt(j);
  let at = off + HEADER;
  if (b.full) {
    dv.setUint32(at, ((b.full.version << 24) | b.full.flags) >>> 0);
    at += 4;
  }
  for (const p of b.parts) {
    if (p instanceof Uint8Array) {
      dst.set(p, at);
      at += p.length;
    } else {
      at = write(dst, dv, at, p);
    }
  }
  if (at !== off + b.size) throw new SluiceError('ERR_INTERNAL', `mp4: '${b.type}' wrote ${at - off} bytes, sized ${b.size}`);
  return at;
}

/** Writes top-level boxes back to back into one new buffer. */
export function serialize(boxes: readonly Box[]): Buffer {
  const total = boxes.reduce((n, b) => n + b.size, 0);
  const out = Buffer.allocUnsafe(total);
  const dv = new DataView(out.buffer, out.byteOffset, out.length);
  let at = 0;
  for (const b of boxes) at = write(out, dv, at, b);
  return out;
}

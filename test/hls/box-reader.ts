/**
 * A strict ISO BMFF box walker for the fMP4 tests: every box's size must
 * land exactly on its parent's end, and the containers the writer produces
 * are descended into, so a wrong size anywhere fails the walk.
 *
 *   size u32 | type 4cc | body          (no largesize: the writer never emits it)
 */
import assert from 'node:assert/strict';

export interface ReadBox {
  type: string;
  /** Offset of the box header in the walked buffer. */
  start: number;
  size: number;
  /** The body after the 8-byte header (a full box's version/flags included). */
  body: Buffer;
  children: ReadBox[];
}

/** Bytes before the child boxes of each container (14496-12): full-box header, entry counts, sample entry fields. */
const CONTAINERS: Record<string, number> = {
  moov: 0, trak: 0, mdia: 0, minf: 0, dinf: 0, stbl: 0, mvex: 0, moof: 0, traf: 0,
  dref: 8, // version/flags + entry_count
  stsd: 8,
  avc1: 78, // SampleEntry 8 + VisualSampleEntry 70
  mp4a: 28, // SampleEntry 8 + AudioSampleEntry 20
};

export function walk(buf: Buffer, base = 0, end = buf.length, path = ''): ReadBox[] {
  const out: ReadBox[] = [];
  let pos = base;
  while (pos < end) {
    assert.ok(end - pos >= 8, `${path}: ${end - pos} stray bytes at ${pos}`);
    const size = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    assert.ok(size >= 8 && pos + size <= end, `${path}/${type}: size ${size} at ${pos} runs past its parent (ends at ${end})`);
    const skip = CONTAINERS[type];
    const children = skip === undefined ? [] : walk(buf, pos + 8 + skip, pos + size, `${path}/${type}`);
    out.push({ type, start: pos, size, body: buf.subarray(pos + 8, pos + size), children });
    pos += size;
  }
  return out;
}

/** The first box at `path` ('moov/trak/mdia'), searching each level in order. */
export function find(boxes: ReadBox[], path: string): ReadBox {
  let level = boxes;
  let hit: ReadBox | undefined;
  for (const type of path.split('/')) {
    hit = level.find((b) => b.type === type);
    assert.ok(hit, `no ${path} (missing ${type})`);
    level = hit.children;
  }
  return hit!;
}

/** Every box as an indented outline, for comparing the whole layout at once. */
export function outline(boxes: ReadBox[], depth = 0): string[] {
  return boxes.flatMap((b) => [`${'  '.repeat(depth)}${b.type}`, ...outline(b.children, depth + 1)]);
}

export interface TrunSample {
  duration: number;
  size: number;
  flags: number;
  cto: number;
}

/** tfhd track_ID, tfdt baseMediaDecodeTime and the trun of one traf (the flag combinations the writer uses). */
export function readTraf(traf: ReadBox): { trackId: number; tfhdFlags: number; base: number; dataOffset: number; samples: TrunSample[] } {
  const tfhd = find(traf.children, 'tfhd').body;
  const tfdt = find(traf.children, 'tfdt').body;
  const trun = find(traf.children, 'trun').body;
  assert.equal(tfdt[0], 1, 'tfdt version 1 (64-bit)');
  const flags = trun.readUInt32BE(0) & 0xffffff;
  assert.equal(flags & 0x000701, 0x000701, 'trun has data offset, duration, size and flags');
  const cto = (flags & 0x000800) !== 0;
  const count = trun.readUInt32BE(4);
  const entry = cto ? 16 : 12;
  assert.equal(trun.length, 12 + count * entry, 'trun length matches its sample count');
  const samples = Array.from({ length: count }, (_, i): TrunSample => {
    const at = 12 + i * entry;
    return {
      duration: trun.readUInt32BE(at),
      size: trun.readUInt32BE(at + 4),
      flags: trun.readUInt32BE(at + 8),
      cto: cto ? trun.readInt32BE(at + 12) : 0,
    };
  });
  return {
    trackId: tfhd.readUInt32BE(4),
    tfhdFlags: tfhd.readUInt32BE(0) & 0xffffff,
    base: Number(tfdt.readBigUInt64BE(4)),
    dataOffset: trun.readInt32BE(8),
    samples,
  };
}

/**
 * The video track of an ISO BMFF (MP4) file as coded samples, for tests
 * that need real HEVC/AV1 bitstreams: the decoder configuration record the
 * muxer wrote (hvcC / av1C body, exactly what E-RTMP's SequenceStart
 * carries) and each sample's bytes (length-prefixed NAL units / OBUs, what
 * CodedFrames carries) with decode time, composition offset and sync flag.
 *
 * Only what ffmpeg's mp4 muxer writes for one non-fragmented video track
 * is read (ISO/IEC 14496-12: stsd, stts, ctts, stss, stsz, stsc, stco/co64,
 * mdhd); anything else throws.
 */
import { readFileSync } from 'node:fs';

export interface Mp4Sample {
  data: Buffer;
  /** Decode time, ms. */
  dts: number;
  /** Composition offset (pts - dts), ms. */
  cts: number;
  key: boolean;
}

export interface Mp4VideoTrack {
  /** Sample entry type: 'hvc1', 'hev1', 'av01', 'avc1'. */
  entry: string;
  /** Body of the configuration box (hvcC, av1C, avcC), without its box header. */
  config: Buffer;
  samples: Mp4Sample[];
}

interface Box {
  type: string;
  body: Buffer;
}

function* boxes(buf: Buffer): Generator<Box> {
  let pos = 0;
  while (pos + 8 <= buf.length) {
    let size = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    let head = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(pos + 8));
      head = 16;
    } else if (size === 0) size = buf.length - pos;
    if (size < head || pos + size > buf.length) throw new Error(`mp4: box '${type}' of ${size} bytes at ${pos} runs past its parent`);
    yield { type, body: buf.subarray(pos + head, pos + size) };
    pos += size;
  }
}

function child(buf: Buffer, path: string[]): Buffer | undefined {
  let cur: Buffer | undefined = buf;
  for (const type of path) {
    cur = [...boxes(cur)].find((b) => b.type === type)?.body;
    if (!cur) return undefined;
  }
  return cur;
}

function need(buf: Buffer, path: string[]): Buffer {
  const b = child(buf, path);
  if (!b) throw new Error(`mp4: no ${path.join('/')}`);
  return b;
}

/** Entries of a full box laid out as version/flags, u32 count, then `width` u32 fields per entry. */
function table(body: Buffer, width: number): number[][] {
  const count = body.readUInt32BE(4);
  const rows: number[][] = [];
  for (let i = 0; i < count; i++) {
    const row: number[] = [];
    for (let j = 0; j < width; j++) row.push(body.readUInt32BE(8 + (i * width + j) * 4));
    rows.push(row);
  }
  return rows;
}

/** VisualSampleEntry (14496-12 12.1.3): 8 bytes of SampleEntry + 70 of visual fields before the child boxes. */
const VISUAL_ENTRY_FIELDS = 8 + 70;

export function readMp4Video(file: string): Mp4VideoTrack {
  const buf = readFileSync(file);
  const moov = need(buf, ['moov']);
  const trak = [...boxes(moov)].filter((b) => b.type === 'trak').find((t) => need(t.body, ['mdia', 'hdlr']).toString('latin1', 8, 12) === 'vide');
  if (!trak) throw new Error(`mp4: ${file} has no video track`);
  const mdhd = need(trak.body, ['mdia', 'mdhd']);
  const timescale = mdhd[0] === 1 ? mdhd.readUInt32BE(20) : mdhd.readUInt32BE(12);
  const stbl = need(trak.body, ['mdia', 'minf', 'stbl']);

  const stsd = need(stbl, ['stsd']);
  const entry = [...boxes(stsd.subarray(8))][0];
  if (!entry) throw new Error('mp4: empty stsd');
  const configType = { hvc1: 'hvcC', hev1: 'hvcC', av01: 'av1C', avc1: 'avcC' }[entry.type];
  if (!configType) throw new Error(`mp4: sample entry '${entry.type}' not handled`);
  const config = [...boxes(entry.body.subarray(VISUAL_ENTRY_FIELDS))].find((b) => b.type === configType)?.body;
  if (!config) throw new Error(`mp4: no ${configType} in ${entry.type}`);

  const stsz = need(stbl, ['stsz']);
  const fixed = stsz.readUInt32BE(4);
  const count = stsz.readUInt32BE(8);
  const sizes = Array.from({ length: count }, (_, i) => fixed || stsz.readUInt32BE(12 + i * 4));

  const co64 = child(stbl, ['co64']);
  const stco = co64 ? undefined : need(stbl, ['stco']);
  const chunkOffsets = co64
    ? Array.from({ length: co64.readUInt32BE(4) }, (_, i) => Number(co64.readBigUInt64BE(8 + i * 8)))
    : table(stco!, 1).map((r) => r[0]!);
  // stsc: runs of chunks with the same samples-per-chunk, from first_chunk (1-based) to the next run.
  const stsc = table(need(stbl, ['stsc']), 3);
  const offsets: number[] = [];
  for (let c = 0, run = 0; c < chunkOffsets.length; c++) {
    if (run + 1 < stsc.length && c + 1 >= stsc[run + 1]![0]!) run++;
    let at = chunkOffsets[c]!;
    for (let k = 0; k < stsc[run]![1]! && offsets.length < count; k++) {
      offsets.push(at);
      at += sizes[offsets.length - 1]!;
    }
  }

  const expand = (rows: number[][]): number[] => rows.flatMap(([n, v]) => Array<number>(n!).fill(v!));
  const deltas = expand(table(need(stbl, ['stts']), 2));
  const cttsBox = child(stbl, ['ctts']);
  // ctts version 1 offsets are signed; version 0 ones are read the same way (ffmpeg keeps them small).
  const ctts = cttsBox ? expand(table(cttsBox, 2)).map((v) => v | 0) : [];
  const stssBox = child(stbl, ['stss']);
  const sync = stssBox ? new Set(table(stssBox, 1).map((r) => r[0]! - 1)) : undefined;

  const ms = (ticks: number): number => Math.round((ticks * 1000) / timescale);
  const samples: Mp4Sample[] = [];
  let dts = 0;
  for (let i = 0; i < count; i++) {
    samples.push({
      data: buf.subarray(offsets[i]!, offsets[i]! + sizes[i]!),
      dts: ms(dts),
      cts: ms(dts + (ctts[i] ?? 0)) - ms(dts),
      key: sync ? sync.has(i) : true,
    });
    dts += deltas[i] ?? 0;
  }
  return { entry: entry.type, config: Buffer.from(config), samples };
}

/**
 * HLS segment build cost per stream-second: the moof + mdat of the two
 * 500 ms parts of one second of a 2 Mbit/s stream (25 fps, 10 KB frames,
 * a keyframe of 40 KB; AAC 44.1 kHz, 1024-sample frames of 300 B), built by
 * fmp4.ts mediaSegment from views of the samples, as a remux thread does
 * from the ring. Baseline: Buffer.concat of the same sample bytes, the one
 * copy any remuxer must make; the ratio is what the boxes add to it.
 */
import { mediaSegment, VIDEO_TIMESCALE, type Fmp4Run, type Fmp4Sample, type Fmp4Track } from '../../src/hls/fmp4.js';
import { point, sink, type Bench, type Row } from '../bench.js';

const video: Fmp4Track = { id: 1, kind: 'video', codec: 'avc', timescale: VIDEO_TIMESCALE, config: new Uint8Array(0), width: 1280, height: 720, sampleRate: 0, channels: 0 };
const audio: Fmp4Track = { id: 2, kind: 'audio', codec: 'aac', timescale: 44100, config: new Uint8Array(0), width: 0, height: 0, sampleRate: 44100, channels: 2 };

/** One second's samples, split into two parts of 500 ms. */
function oneSecond(): Fmp4Run[][] {
  const fill = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
  const v: Fmp4Sample[] = Array.from({ length: 25 }, (_, i) => ({ dts: i * 40, cts: 80, key: i === 0, data: fill(i === 0 ? 40_000 : 10_000, i) }));
  const a: Fmp4Sample[] = Array.from({ length: 43 }, (_, i) => ({ dts: Math.floor((i * 1024 * 1000) / 44100), data: fill(300, i) }));
  const half = (s: Fmp4Sample[], first: boolean): Fmp4Sample[] => s.filter((x) => (x.dts < 500) === first);
  return [true, false].map((first) => [
    { track: video, samples: half(v, first), endDts: first ? 500 : 1000 },
    { track: audio, samples: half(a, first) },
  ]);
}

function run(): Row[] {
  const parts = oneSecond();
  const datas = parts.map((runs) => runs.flatMap((r) => r.samples.map((s) => s.data)));
  const bytes = datas.flat().reduce((n, d) => n + d.length, 0);
  const unit = { label: 'stream-s/s', perOp: 1 };
  const rows = point('hls-part', `1 s of 2 Mbit/s (${(bytes / 1e3).toFixed(0)} KB) as 2 LL-HLS parts`, unit, [
    { name: 'mediaSegment (moof + mdat)', side: 'sluice', op: () => { for (const [i, runs] of parts.entries()) sink.value += mediaSegment(i + 1, runs).length; } },
    { name: 'Buffer.concat of the samples', side: 'baseline', op: () => { for (const d of datas) sink.value += Buffer.concat(d).length; } },
  ]);
  return rows;
}

export const bench: Bench = { name: 'hls-part', title: 'HLS part building (fMP4 moof + mdat) per stream-second vs the bare copy', run };

/**
 * MPEG-TS segment build cost per stream-second: the same workload as
 * hls-part.bench.ts (one second of a 2 Mbit/s stream: 25 fps, 10 KB
 * frames, a keyframe of 40 KB; AAC 44.1 kHz, 1024-sample frames of 300 B)
 * as one TS segment built by mpegts.ts tsSegment from views of the
 * samples: Annex B with AUD and SPS/PPS, ADTS, PES, 188-byte packets.
 * Baseline: Buffer.concat of the same sample bytes, the one copy any
 * remuxer must make; the ratio is what TS packetization adds to it. The
 * fMP4 mediaSegment of the same second is shown for context.
 */
import { aacTrack, avcTrack, mediaSegment, type Fmp4Run, type Fmp4Sample } from '../../src/hls/fmp4.js';
import { tsSegment } from '../../src/hls/mpegts.js';
import { buildAudioSpecificConfig } from '../../src/protocol/aac.js';
import { buildAvcDecoderConfig } from '../../src/protocol/avc.js';
import { point, sink, type Bench, type Row } from '../bench.js';

/** Baseline-profile 1280x720 SPS and a PPS: real parameter sets, so the tracks' records parse. */
const SPS = Uint8Array.of(0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0c, 0x83, 0xc6, 0x0c, 0xa8);
const PPS = Uint8Array.of(0x68, 0xce, 0x3c, 0x80);

const video = avcTrack(1, buildAvcDecoderConfig([SPS], [PPS]));
const audio = aacTrack(2, buildAudioSpecificConfig({ objectType: 2, sampleRate: 44100, channelConfig: 2 }));

/** One second's samples as one segment; each video frame one NAL unit behind a 4-byte length. */
function oneSecond(): Fmp4Run[] {
  const fill = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
  const frame = (n: number, i: number): Uint8Array => {
    const d = fill(n, i);
    new DataView(d.buffer).setUint32(0, n - 4);
    d[4] = i === 0 ? 0x65 : 0x41; // IDR slice / non-IDR slice
    return d;
  };
  const v: Fmp4Sample[] = Array.from({ length: 25 }, (_, i) => ({ dts: i * 40, cts: 80, key: i === 0, data: frame(i === 0 ? 40_000 : 10_000, i) }));
  const a: Fmp4Sample[] = Array.from({ length: 43 }, (_, i) => ({ dts: Math.floor((i * 1024 * 1000) / 44100), data: fill(300, i) }));
  return [{ track: video, samples: v, endDts: 1000 }, { track: audio, samples: a }];
}

function run(): Row[] {
  const runs = oneSecond();
  const datas = runs.flatMap((r) => r.samples.map((s) => s.data));
  const bytes = datas.reduce((n, d) => n + d.length, 0);
  const continuity = new Map<number, number>();
  const ts = tsSegment(runs, { continuity });
  const unit = { label: 'stream-s/s', perOp: 1 };
  console.log(`  TS segment ${ts.length} B for ${bytes} B of samples (${((ts.length / bytes - 1) * 100).toFixed(1)} % overhead)`);
  return point('ts-segment', `1 s of 2 Mbit/s (${(bytes / 1e3).toFixed(0)} KB) as one MPEG-TS segment`, unit, [
    { name: 'tsSegment (PAT PMT PES, 188 B packets)', side: 'sluice', op: () => { sink.value += tsSegment(runs, { continuity }).length; } },
    { name: 'Buffer.concat of the samples', side: 'baseline', op: () => { sink.value += Buffer.concat(datas).length; } },
    { name: 'fmp4 mediaSegment (moof + mdat)', side: 'info', op: () => { sink.value += mediaSegment(1, runs).length; } },
  ]);
}

export const bench: Bench = { name: 'ts-segment', title: 'HLS MPEG-TS segment building per stream-second vs the bare copy', run };

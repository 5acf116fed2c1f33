/**
 * The golden FLV (test/fixtures/testsrc-160x120-aac.flv: libx264 High
 * 160x120 25 fps with B-frames, keyframes at video frames 0 and 5; AAC-LC
 * 44.1 kHz stereo) as fMP4 input: the two sequence headers' codec data and
 * every frame as a sample, split by the protocol layer's own tag parsers.
 */
import { readFileSync } from 'node:fs';
import { FlvDemuxer } from '../../src/protocol/flv-tag.js';
import { parseVideoTagHeader } from '../../src/protocol/video-tag.js';
import { parseAudioTagHeader } from '../../src/protocol/audio-tag.js';
import { aacTrack, avcTrack, type Fmp4Run, type Fmp4Sample, type Fmp4Track } from '../../src/hls/fmp4.js';
import { kindOf } from '../helpers/clip-tags.js';

export const FIXTURE = new URL('../../../test/fixtures/testsrc-160x120-aac.flv', import.meta.url).pathname;

export interface FlvSource {
  video: Fmp4Track;
  audio: Fmp4Track;
  videoSamples: Fmp4Sample[];
  audioSamples: Fmp4Sample[];
}

export function readFixture(file = FIXTURE): FlvSource {
  const demux = new FlvDemuxer();
  const tags = demux.push(readFileSync(file));
  demux.end();
  let avcC: Uint8Array | undefined;
  let asc: Uint8Array | undefined;
  const videoSamples: Fmp4Sample[] = [];
  const audioSamples: Fmp4Sample[] = [];
  for (const t of tags) {
    const kind = kindOf(t.type, Buffer.from(t.data));
    if (t.type === 9) {
      const h = parseVideoTagHeader(t.data);
      const body = t.data.subarray(h.dataOffset, h.dataEnd);
      if (kind === 'vseq') avcC = body;
      else if (kind === 'key' || kind === 'inter') videoSamples.push({ dts: t.timestamp, cts: h.cts, key: kind === 'key', data: body });
    } else if (t.type === 8) {
      const h = parseAudioTagHeader(t.data);
      const body = t.data.subarray(h.dataOffset, h.dataEnd);
      if (kind === 'aseq') asc = body;
      else audioSamples.push({ dts: t.timestamp, data: body });
    }
  }
  if (!avcC || !asc) throw new Error(`${file}: no AVC or AAC sequence header`);
  return { video: avcTrack(1, avcC), audio: aacTrack(2, asc), videoSamples, audioSamples };
}

/**
 * Runs of each segment, cut at every keyframe: a segment holds the video
 * from one keyframe to the next and the audio decoded before the next
 * segment's first video DTS. Each run's endDts is its track's next sample
 * (none for the last segment, which then repeats the previous duration).
 */
export function segmentsAtKeyframes(src: FlvSource): Fmp4Run[][] {
  const cuts = src.videoSamples.flatMap((s, i) => (s.key ? [i] : []));
  const segments: Fmp4Run[][] = [];
  let a = 0;
  cuts.forEach((from, k) => {
    const to = cuts[k + 1] ?? src.videoSamples.length;
    const video = src.videoSamples.slice(from, to);
    const endDts = src.videoSamples[to]?.dts;
    const aFrom = a;
    while (a < src.audioSamples.length && (endDts === undefined || src.audioSamples[a]!.dts < endDts)) a++;
    const runs: Fmp4Run[] = [{ track: src.video, samples: video, endDts }];
    if (a > aFrom) runs.push({ track: src.audio, samples: src.audioSamples.slice(aFrom, a), endDts: src.audioSamples[a]?.dts });
    segments.push(runs);
  });
  return segments;
}

export interface TaggedSample {
  kind: 'video' | 'audio';
  sample: Fmp4Sample;
}

/** Both tracks merged by DTS, audio first on a tie: the decode order an RTMP publisher sends. */
export function decodeOrder(src: FlvSource): TaggedSample[] {
  const out: TaggedSample[] = [];
  let v = 0;
  let a = 0;
  while (v < src.videoSamples.length || a < src.audioSamples.length) {
    const vs = src.videoSamples[v];
    const as = src.audioSamples[a];
    if (as && (!vs || as.dts <= vs.dts)) (out.push({ kind: 'audio', sample: as }), a++);
    else (out.push({ kind: 'video', sample: vs! }), v++);
  }
  return out;
}

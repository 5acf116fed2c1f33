/**
 * Shared input for the segmenter and playlist tests: a longer libx264 + AAC
 * clip (8 s, 25 fps, a keyframe every second, B-frames), fed to a Segmenter
 * sample by sample in decode order with a wall clock that follows the DTS.
 */
import { Segmenter, type HlsSegment, type SegmenterOptions } from '../../src/hls/segmenter.js';
import type { PlaylistNames } from '../../src/hls/playlist.js';
import { makeClip } from '../helpers/ffmpeg.js';
import { decodeOrder, readFixture, type FlvSource, type TaggedSample } from './flv-fixture.js';

export const WALL0 = Date.UTC(2026, 0, 1, 12, 0, 0);
export const OPTS: SegmenterOptions = { segmentMs: 2000, partMs: 500, windowSegments: 3 };
export const NAMES: PlaylistNames = {
  segment: (msn) => `seg-${msn}.m4s`,
  part: (msn, i) => `part-${msn}-${i}.m4s`,
  init: (v) => `init-${v}.mp4`,
};

export async function clipSource(): Promise<{ file: string; src: FlvSource; order: TaggedSample[] }> {
  const clip = await makeClip({ seconds: 8, fps: 25, gop: 25, width: 160, height: 120 });
  const src = readFixture(clip.file);
  return { file: clip.file, src, order: decodeOrder(src) };
}

export interface FedRun {
  seg: Segmenter;
  /** Every segment completed, window and dropped, in order. */
  all: HlsSegment[];
}

/** A segmenter fed `order[from..to)`; `each` runs after every push. */
export function feed(src: FlvSource, order: TaggedSample[], opts: Partial<SegmenterOptions> = {}, each?: (seg: Segmenter, all: HlsSegment[]) => void,
  to = order.length): FedRun {
  const seg = new Segmenter({ ...OPTS, ...opts });
  seg.setTracks({ video: src.video, audio: src.audio });
  const dropped: HlsSegment[] = [];
  const all = (): HlsSegment[] => [...dropped, ...seg.segments];
  for (const { kind, sample } of order.slice(0, to)) {
    seg.push(kind, sample, WALL0 + sample.dts);
    dropped.push(...seg.takeDropped());
    each?.(seg, all());
  }
  return { seg, all: all() };
}

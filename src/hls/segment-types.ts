import type { Fmp4Run, Fmp4Track } from './fmp4.js';

/** What a Segmenter (segmenter.ts) takes and holds: its options, and the segments and parts playlists list. */

export interface SegmenterOptions {
  /** Target segment duration, ms (e.g. 2000). */
  segmentMs: number;
  /** Target part duration, ms (e.g. 500): the playlist's PART-TARGET. */
  partMs: number;
  /** Complete segments kept; older ones move to the dropped list. */
  windowSegments: number;
  /** Media sequence number of the first segment (default 0). */
  firstMsn?: number;
  /** Segment starts and numbers come with the samples (push's `mark`); default false. */
  marked?: boolean;
  /**
   * Builds one part's moof+mdat (default fmp4.ts mediaSegment). It may throw,
   * failing the push that emitted it, or answer later: `built` is told each
   * completion, `failed` each rejection.
   */
  build?: (fragment: number, runs: readonly Fmp4Run[]) => Built | Promise<Built>;
  built?: () => void;
  failed?: (err: unknown) => void;
  /**
   * (marked) The longest segment the stream's writer has cut, ms: the
   * target duration covers it, so a reader that never saw that segment
   * still says the same EXT-X-TARGETDURATION as one that did.
   */
  longestMs?: () => number;
  /** Where a closed segment's bytes go (default Buffer.allocUnsafe; shared memory when other workers serve them). */
  alloc?: (size: number) => Buffer;
}

/** A part's bytes: moof+mdat, and the same samples as MPEG-TS when someone asked for TS. */
export type Built = Buffer | { bytes: Buffer; ts: Buffer | undefined };

export interface StreamTracks {
  video?: Fmp4Track;
  audio?: Fmp4Track;
}

/** The tracks present, video first: the order of the init segment, the PMT and CODECS. */
export function trackList(tracks: StreamTracks): Fmp4Track[] {
  return [tracks.video, tracks.audio].filter((t): t is Fmp4Track => t !== undefined);
}

export interface HlsPart {
  msn: number;
  /** Index within its segment, from 0. */
  index: number;
  durationMs: number;
  /** Starts with a keyframe (or is audio only): EXT-X-PART INDEPENDENT=YES. */
  independent: boolean;
  /** Empty while `built` is false. */
  bytes: Buffer;
  /** Its build (on a remux thread) has answered. */
  built: boolean;
  /** The part as MPEG-TS, until its segment joins them. */
  ts?: Buffer | undefined;
}

export interface HlsSegment {
  msn: number;
  /** Primary-track DTS of the first sample, ms. */
  startDts: number;
  durationMs: number;
  /** Wall clock of the first sample, ms since the epoch, when one was given. */
  programDateMs: number | undefined;
  /** The timeline or codec config changed before this segment (EXT-X-DISCONTINUITY). */
  discontinuity: boolean;
  /** (marked) Its discontinuity sequence number, from the writer's mark. */
  dsn?: number;
  initVersion: number;
  parts: HlsPart[];
  /** Concatenated parts; undefined while the segment is open or a part is still being built. */
  bytes: Buffer | undefined;
  /** The segment as MPEG-TS, when every part was built with TS. */
  ts?: Buffer | undefined;
}

export type SampleKind = 'video' | 'audio';

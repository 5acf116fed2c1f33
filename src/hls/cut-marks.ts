import { C_HLS_MSN, TagFlag, type TagRing } from '../core/tag-ring.js';
import { TagType } from '../protocol/types.js';

/**
 * Where HLS segments start, decided once by the stream's writer and stored
 * in the ring record that starts each segment (TagRing slot word MARK).
 *
 * Every worker that serves HLS runs its own segmenter over the shared ring
 * (segments live per thread). A player's requests may land on any worker
 * (SO_REUSEPORT), so all of them must cut the same segments with the same
 * media sequence numbers: the writer marks the first record of segment N
 * with N, and a segmenter that starts anywhere in the ring cuts exactly
 * there. Parts follow from the segment start deterministically.
 *
 * Mark word: bit 30 = a segment starts here, bit 29 = a discontinuity
 * (republish) comes before it, bits 0..28 = the media sequence number.
 */

const START = 0x40000000;
const DISCONTINUITY = 0x20000000;
const MSN_MASK = 0x1fffffff;

export interface CutMark {
  msn: number;
  discontinuity: boolean;
}

export function decodeMark(mark: number): CutMark | undefined {
  if (!(mark & START)) return undefined;
  return { msn: mark & MSN_MASK, discontinuity: (mark & DISCONTINUITY) !== 0 };
}

export function encodeMark(m: CutMark): number {
  return START | (m.discontinuity ? DISCONTINUITY : 0) | (m.msn & MSN_MASK);
}

/**
 * The writer's side: one per publisher on the stream's home worker. The
 * next sequence number lives in the ring's control words, so a republish
 * (here or on another worker) keeps counting and starts with a
 * discontinuity: a player holding the playlist never sees it restart.
 *
 * Rule: a segment starts at a video keyframe once the current segment has
 * lasted `segmentMs` (at the first keyframe after a new video sequence
 * header at once: the segmenter needs a new init there); without video, at
 * the first audio frame at or past `segmentMs`.
 */
export class HlsCutter {
  private segStart: number | undefined;
  private pendingDiscontinuity: boolean;
  private configChanged = false;
  private videoHeader: Uint8Array | undefined;
  private audioHeader: Uint8Array | undefined;
  /** The stream has video: audio never starts a segment then. */
  hasVideo = false;

  constructor(
    readonly segmentMs: number,
    private readonly ring: TagRing,
  ) {
    // Segments were cut in this ring before: a publisher before this one.
    this.pendingDiscontinuity = ring.ctl[C_HLS_MSN] !== 0;
  }

  /** The mark for a media record about to be committed (0 = none). `body`: only looked at for sequence headers. */
  mark(type: number, timestamp: number, flags: number, body: Uint8Array): number {
    if (flags & TagFlag.SequenceHeader) {
      this.noteHeader(type, body);
      return 0;
    }
    let starts: boolean;
    if (type === TagType.Video) {
      this.hasVideo = true;
      starts = (flags & TagFlag.Key) !== 0 && this.due(timestamp);
    } else if (type === TagType.Audio && !this.hasVideo) {
      starts = this.due(timestamp);
    } else {
      return 0;
    }
    if (!starts) return 0;
    this.segStart = timestamp;
    this.configChanged = false;
    const ctl = this.ring.ctl;
    const msn = ctl[C_HLS_MSN]!;
    ctl[C_HLS_MSN] = (msn + 1) & MSN_MASK;
    const m = encodeMark({ msn, discontinuity: this.pendingDiscontinuity });
    this.pendingDiscontinuity = false;
    return m;
  }

  /** Timestamps are 32-bit and the stream's are monotonic: the wrapping distance. */
  private due(timestamp: number): boolean {
    return this.segStart === undefined || this.configChanged || ((timestamp - this.segStart) | 0) >= this.segmentMs;
  }

  /** A sequence header that differs from the last one of its track cuts at the next start point. */
  private noteHeader(type: number, body: Uint8Array): void {
    const before = type === TagType.Video ? this.videoHeader : this.audioHeader;
    if (before !== undefined && !Buffer.from(before).equals(body)) this.configChanged = true;
    const copy = Uint8Array.from(body);
    if (type === TagType.Video) this.videoHeader = copy;
    else this.audioHeader = copy;
  }
}

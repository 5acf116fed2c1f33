import { C_HLS_DISC, C_HLS_LONGEST, C_HLS_MARK_TS, C_HLS_MSN, TagFlag, type TagRing } from '../core/tag-ring.js';
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
 * (republish, changed codec config) comes before it, bits 21..28 = the low
 * bits of its discontinuity sequence number, bits 0..20 = the low bits of
 * its media sequence number. The full numbers count on in the ring's
 * control words (HLS_MSN, HLS_DISC), which the writer bumps before it
 * commits the record: a reader rebuilds them from the current counts, and
 * every reader gets the same ones (a ring spans far fewer than 2^21
 * segments and 2^8 discontinuities). The ring also keeps the longest
 * segment cut so far (HLS_LONGEST), for EXT-X-TARGETDURATION.
 */

const START = 0x40000000;
const DISCONTINUITY = 0x20000000;
const MSN_BITS = 21;
const MSN_LOW = (1 << MSN_BITS) - 1;
const DSN_LOW = 0xff;
/** The ring's counters are Int32: they count to 2^31 (68 years of 1 s segments) and stop there. */
const COUNT_MAX = 0x7fffffff;

export interface CutMark {
  msn: number;
  discontinuity: boolean;
  /**
   * Discontinuity sequence number of the segment (RFC 8216 6.2.2):
   * discontinuities the writer marked up to and including this one.
   */
  dsn: number;
}

/** The ring's counts a mark is read against: HLS_MSN (next number) and HLS_DISC (discontinuities so far). */
export function decodeMark(mark: number, ctl: ArrayLike<number>): CutMark | undefined {
  if (!(mark & START)) return undefined;
  return {
    msn: below(ctl[C_HLS_MSN]! - 1, mark & MSN_LOW, MSN_LOW),
    discontinuity: (mark & DISCONTINUITY) !== 0,
    dsn: below(ctl[C_HLS_DISC]!, (mark >>> MSN_BITS) & DSN_LOW, DSN_LOW),
  };
}

/** The largest number <= `top` whose low bits are `low`. */
function below(top: number, low: number, mask: number): number {
  return top - ((top - low) & mask);
}

export function encodeMark(m: CutMark): number {
  return START | (m.discontinuity ? DISCONTINUITY : 0) | ((m.dsn & DSN_LOW) << MSN_BITS) | (m.msn & MSN_LOW);
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
    const ctl = this.ring.ctl;
    const msn = ctl[C_HLS_MSN]!;
    // The segment this mark ends (a republish's timestamps go on after the last publisher's, so the last mark's are comparable).
    if (msn > 0) ctl[C_HLS_LONGEST] = Math.max(ctl[C_HLS_LONGEST]!, (timestamp - ctl[C_HLS_MARK_TS]!) | 0);
    ctl[C_HLS_MARK_TS] = timestamp | 0;
    const discontinuity = this.pendingDiscontinuity || this.configChanged;
    // The counts go up before the record is committed: a reader of the mark finds them past it (decodeMark).
    ctl[C_HLS_MSN] = Math.min(msn + 1, COUNT_MAX);
    if (discontinuity) ctl[C_HLS_DISC] = Math.min(ctl[C_HLS_DISC]! + 1, COUNT_MAX);
    this.configChanged = false;
    this.pendingDiscontinuity = false;
    return encodeMark({ msn, discontinuity, dsn: ctl[C_HLS_DISC]! });
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

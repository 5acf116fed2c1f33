/**
 * Contracts of the live layer: what a player transport must offer, what an
 * egress form is, and the events a subscriber receives from its stream.
 */
import type { RecordView, TagRing } from '../core/tag-ring.js';
import type { ErrorCode } from '../core/errors.js';

/**
 * One way of putting ring records on the wire (RTMP chunks for a stream
 * id and chunk size; FLV tag bytes). Built once per tag per form and shared
 * by every player of that form: the bytes are never mutated after build.
 */
export interface EgressForm {
  readonly id: string;
  /** Egress bytes of a ring record (copy its body out of the ring). */
  build(ring: TagRing, rec: RecordView): Buffer;
  /** Egress bytes of a sticky tag (metadata / sequence header) held outside the ring. */
  buildSticky(type: number, timestamp: number, body: Uint8Array): Buffer;
  /**
   * A new player's metadata and sequence headers go out at timestamp 0
   * (true), or at its first frame's (false: a form that re-bases each
   * player to 0 itself, as FLV does, keeps them together with that frame).
   */
  readonly opensAtZero: boolean;
  /** Where a new player of this form starts (a keyframe or segment start in `ring`); default: the latest keyframe. */
  startAt?(ring: TagRing): number | undefined;
}

/** A form's egress bytes per ring record, shared by its players (media/egress/cache.ts). */
export interface EgressSource {
  /** Egress bytes of `rec`, or undefined when the writer lapped it during the copy. */
  get(rec: RecordView): Buffer | undefined;
  /** The records [from, to) as one batch shared by the players at `from` this turn; not ok past `maxBytes` (a high-water mark). */
  batch(from: number, to: number, maxBytes: number): SharedBatch;
}

/** A span of ring records as one batch of a form's egress bytes, shared by the players at its start (egress/turn-batch.ts). */
export interface SharedBatch {
  /** Ring positions it covers: [from, to). */
  readonly from: number;
  readonly to: number;
  /** False when a record in the span could not be read whole: players take the one-by-one path. */
  readonly ok: boolean;
  readonly bufs: Buffer[];
  /** Per tag: the ring's arrival stamp (latency). */
  readonly arrivals: readonly number[];
  readonly bytes: number;
  /** Byte length of the last tag (the high-water rule lets the last tag cross the mark). */
  readonly lastBytes: number;
  /** Per sticky kind (sticky-plan.ts), the seq of the last such tag in the span; bit k of stickyMask: kind k is there. */
  readonly sticky: readonly [number, number, number];
  readonly stickyMask: number;
  /** The first record's cumulative byte count before it, and its timestamp (lag checks). */
  readonly startCum: number;
  readonly startTs: number;
}

/** The socket side of a player. */
export interface PlayerTransport {
  /** Bytes handed to the transport and not yet sent. */
  readonly writableLength: number;
  /** Writes a batch in one go (cork/writev). `chunks` may be shared with other players: read it, never keep or change it. */
  write(chunks: Buffer[]): void;
}

/** Events a stream delivers to its subscribers (the session layer reacts). */
export interface SubscriberEvents {
  /** The publisher left; the stream waits `graceMs` for it to return. */
  onUnpublish(): void;
  /** A publisher (re)started the stream. */
  onPublish(): void;
  /** The stream is gone (grace expired, never published, or dropped). */
  onStreamEnd(reason: string): void;
  /** The player must be disconnected (too slow). */
  onEvict(code: ErrorCode, reason: string): void;
}

/** The latest tag of one sticky kind, and the ring record that carried it in-band. */
export interface StickyTag {
  timestamp: number;
  body: Buffer;
  seq: number;
}

/** Sticky tags a new player receives before media. */
export interface StickyTags {
  /** Bumped whenever any of them changes. */
  version: number;
  metadata?: StickyTag;
  videoHeader?: StickyTag;
  audioHeader?: StickyTag;
}

/** Where a worker's latency histograms get their samples. */
export interface LatencyRecorder {
  /** A tag handed to a player's socket this long after it was ingested. */
  ingestToEgress(ms: number): void;
  /** A player's first tag, this long after it asked to play. */
  firstFrame(ms: number): void;
}

/** Per-stream settings a worker applies to its views. */
export interface StreamOptions {
  maxTimestampJumpMs: number;
  /**
   * Merged writes: how long to wait after new tags before pumping players, so
   * each write carries several tags (fewer syscalls, more latency); asked at
   * every scheduling, since it follows the worker's load (merge-window.ts). 0 = next turn.
   */
  mergeWindowMs: () => number;
  /**
   * While the merge window is open (above 0), audio of a stream with video
   * waits up to this long for the next video frame, so the two go in one
   * write; a video frame then flushes at once when the window is shorter than
   * the frame interval (live-stream.ts scheduleFlush). 0 or absent = no hold.
   */
  audioHoldMs?: number;
  /** A publisher's timestamps jumped by more than maxTimestampJumpMs (`stepMs`, signed) and were re-based. */
  onTimestampJump?: ((key: string, stepMs: number) => void) | undefined;
  /** HLS target segment duration: the writer marks segment starts in the ring (hls/cut-marks.ts); undefined = HLS off. */
  hlsSegmentMs?: number | undefined;
}

export interface PlayerPolicy {
  writeHighWaterBytes: number;
  queueMaxBytes: number;
  queueMaxMs: number;
  stallTimeoutMs: number;
  /** Players at one cursor share the turn's batch (egress/turn-batch.ts); default true. */
  sharedBatch?: boolean;
}

export interface MediaCounters {
  tagsIn: number;
  bytesIn: number;
  tagsDropped: number;
  playersEvicted: number;
  resyncs: number;
}

/**
 * What a subscriber needs of its stream, whether the stream is published
 * on this thread or read from another thread's ring.
 */
export interface StreamView {
  readonly key: string;
  readonly ring: TagRing | null;
  readonly sticky: StickyTags;
  /** The stream carries (or its metadata announces) video: players wait for a keyframe. */
  readonly hasVideo: boolean;
  readonly live: boolean;
  readonly counters: MediaCounters;
  latestTimestamp(): number;
  cacheFor(form: EgressForm): EgressSource;
  removeSubscriber(sub: unknown): void;
}

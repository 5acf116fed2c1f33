import { SluiceError } from '../core/errors.js';
import { initSegment, mediaSegment, type Fmp4Run, type Fmp4Sample, type Fmp4Track } from './fmp4.js';
import { renumberTsParts } from './mpegts.js';
import { trackList, type Built, type HlsPart, type HlsSegment, type SampleKind, type SegmenterOptions, type StreamTracks } from './segment-types.js';

export type { Built, HlsPart, HlsSegment, SampleKind, SegmenterOptions, StreamTracks } from './segment-types.js';
import type { CutMark } from './cut-marks.js';

/**
 * Live HLS / LL-HLS segmenter for one stream (RFC 8216, draft-pantos-hls-
 * rfc8216bis): samples in decode order in, fMP4 parts and segments out.
 *
 * - Cuts: a segment ends at the first video keyframe once it has lasted
 *   `segmentMs` (audio-only: before the part that would take it past
 *   `segmentMs`); a part ends before the sample that would take it past
 *   `partMs`, and at every segment cut. A part may start on any frame; it
 *   is `independent` when it starts with a keyframe.
 * - A segment's bytes are its parts' moof+mdat concatenated (valid CMAF: a
 *   segment may hold several fragments), built once when it closes; its
 *   parts then become views into those bytes, so nothing is held twice.
 * - `build` may answer later (a remux thread): the part is listed with
 *   `built` false and empty bytes until then, and its segment's bytes come
 *   when its last part's do; published.ts is the view that hides them.
 * - Durations are exact, from DTS: a part is emitted only when every track
 *   has a sample past its end (that sample's DTS is the last one's end), so
 *   output lags input by one sample per track, and a track that stalls holds
 *   parts back. Only flush() (end, discontinuity, new codec config) estimates
 *   the last sample's duration from the one before.
 * - Durations and cuts follow the primary track: video when there is one.
 * - `marked`: segments start only where the stream's writer marked them
 *   (cut-marks.ts), with its sequence numbers, and each segment's date is
 *   its first sample's arrival: segmenters on different threads that start
 *   at different points of one ring then list the same segments, parts and
 *   bytes. Samples before the first mark are skipped, so a segment holds
 *   the samples that came after its mark, in arrival order, whatever their
 *   DTS (a thread that starts at the mark never saw the ones before).
 */


interface TrackQueue {
  track: Fmp4Track;
  /** Samples not yet in an emitted part, decode order. */
  samples: Fmp4Sample[];
  lastDts: number | undefined;
  /** Last DTS step, ms: the estimate flush() gives a last sample. */
  step: number;
  /** Samples pushed and emitted so far: a marked cut splits each queue by arrival (Cut.until). */
  pushed: number;
  taken: number;
}

/** The estimate for a video frame with no frame before it: 25 fps, the common RTMP rate. */
const DEFAULT_FRAME_MS = 40;
/** AAC frames hold 1024 samples (14496-3 4.5.1.1). */
const AAC_FRAME_SAMPLES = 1024;
/** The usual Opus packet. */
const OPUS_FRAME_MS = 20;

/** `pieces` end to end in one buffer from `alloc`. */
function concatInto(pieces: readonly Buffer[], alloc: (size: number) => Buffer): Buffer {
  let size = 0;
  for (const p of pieces) size += p.length;
  const out = alloc(size);
  let at = 0;
  for (const p of pieces) at += p.copy(out, at);
  return out;
}

export class Segmenter {
  readonly opts: Required<SegmenterOptions>;
  /** Complete segments, oldest first, at most windowSegments. */
  readonly segments: HlsSegment[] = [];
  /** The segment being filled, once its first part exists. */
  open: HlsSegment | undefined;
  /** (unmarked) Discontinuities that have slid out of the window. */
  private droppedDiscontinuities = 0;
  /** Longest complete segment this segmenter closed, ms. */
  private longestSeen = 0;
  ended = false;
  /** Parts still being built (an asynchronous `build`). */
  pending = 0;

  private tracks: StreamTracks = {};
  private queues: TrackQueue[] = [];
  private readonly inits = new Map<number, Buffer>();
  private initVersion = 0;
  private nextMsn: number;
  private fragmentSeq = 1;
  private dropped: HlsSegment[] = [];
  private pendingDiscontinuity = false;
  /** Primary-track DTS where the not-yet-emitted part starts; undefined before the first keyframe. */
  private partStart: number | undefined;
  private segStart: number | undefined;
  /** Cut points decided but not yet emitted (waiting for the other track): the DTS that starts a part. */
  private cuts: Cut[] = [];
  /** (marked) The mark that starts the first segment after a (re)start. */
  private startMark: (CutMark & { wallMs: number | undefined }) | undefined;
  private anchor: { dts: number; wallMs: number } | undefined;

  constructor(opts: SegmenterOptions) {
    const o = { firstMsn: 0, marked: false, build: mediaSegment, built: () => {}, failed: () => {}, longestMs: () => 0, alloc: Buffer.allocUnsafe, ...opts };
    const positive = (n: number, what: string): void => {
      if (!Number.isFinite(n) || n <= 0) throw new SluiceError('ERR_CONFIG', `hls segmenter: ${what} ${n} (must be > 0)`);
    };
    positive(o.segmentMs, 'segmentMs');
    positive(o.partMs, 'partMs');
    if (o.partMs > o.segmentMs) throw new SluiceError('ERR_CONFIG', `hls segmenter: partMs ${o.partMs} > segmentMs ${o.segmentMs}`);
    if (!Number.isInteger(o.windowSegments) || o.windowSegments < 1) throw new SluiceError('ERR_CONFIG', `hls segmenter: windowSegments ${o.windowSegments}`);
    if (!Number.isInteger(o.firstMsn) || o.firstMsn < 0) throw new SluiceError('ERR_CONFIG', `hls segmenter: firstMsn ${o.firstMsn}`);
    this.opts = o;
    this.nextMsn = o.firstMsn;
  }

  /**
   * Sequence headers (re)sent. The first call starts the stream; an
   * identical config again (RTMP resends them) changes nothing; a different
   * one closes the open segment and starts a new init with a discontinuity
   * (RFC 8216 4.3.2.3: encoding parameters changed).
   */
  setTracks(tracks: StreamTracks): void {
    if (!tracks.video && !tracks.audio) throw new SluiceError('ERR_CODEC', 'hls segmenter: a stream needs a video or an audio track');
    if (this.initVersion > 0 && sameTracks(this.tracks, tracks)) return;
    if (this.initVersion > 0) {
      this.flush();
      this.pendingDiscontinuity = true;
    }
    this.newInit(tracks);
  }

  /** The timeline restarts (republish): closes the open segment; what follows gets a new init and EXT-X-DISCONTINUITY. */
  discontinuity(tracks: StreamTracks = this.tracks): void {
    if (this.initVersion === 0) throw new SluiceError('ERR_STREAM', 'hls segmenter: discontinuity before setTracks');
    this.flush();
    this.pendingDiscontinuity = true;
    this.newInit(tracks);
  }

  /**
   * One frame. `wallMs` (ms since the epoch) anchors EXT-X-PROGRAM-DATE-TIME;
   * later dates follow the DTS from it (marked: each segment's own). `mark`
   * (marked mode): this sample starts segment `mark.msn`.
   */
  push(kind: SampleKind, sample: Fmp4Sample, wallMs?: number, mark?: CutMark): void {
    if (this.ended) throw new SluiceError('ERR_STREAM', 'hls segmenter: sample after end()');
    const q = this.queues.find((x) => x.track.kind === kind);
    if (!q) throw new SluiceError('ERR_STREAM', `hls segmenter: ${kind} sample without a ${kind} sequence header`);
    const d = sample.dts;
    if (!Number.isFinite(d) || d < 0) throw new SluiceError('ERR_CODEC', `hls segmenter: ${kind} dts ${d}`);
    if (q.lastDts !== undefined) {
      // Equal video DTS would give a zero-length frame; going back needs discontinuity().
      if (d < q.lastDts || (kind === 'video' && d === q.lastDts)) {
        throw new SluiceError('ERR_CODEC', `hls segmenter: ${kind} dts ${d} after ${q.lastDts} (timeline restarts need discontinuity())`);
      }
    }
    const primary = this.queues[0]!;
    if (q === primary) {
      if (this.partStart === undefined) {
        if (kind === 'video' && !sample.key) return; // a segment must start with a keyframe
        if (this.opts.marked) {
          if (!mark) return;
          this.startMark = { ...mark, wallMs };
        }
        this.partStart = this.segStart = d;
        // Audio that came first but decodes before the keyframe has no segment to go in.
        for (const other of this.queues) if (other !== q) other.samples = other.samples.filter((s) => s.dts >= d);
      } else {
        this.decideCut(d, kind === 'video' ? sample.key === true : true, d - q.lastDts!, mark, wallMs);
      }
    } else if (this.opts.marked && this.partStart === undefined) {
      return; // before the first mark
    }
    if (q.lastDts !== undefined && d > q.lastDts) q.step = d - q.lastDts;
    q.lastDts = d;
    q.samples.push(sample);
    q.pushed++;
    if (wallMs !== undefined && this.anchor === undefined && this.partStart !== undefined) this.anchor = { dts: d, wallMs };
    this.emitReady();
  }

  /** End of stream: the open part and segment close (last durations estimated); the playlist gets EXT-X-ENDLIST. */
  end(): void {
    this.flush();
    this.ended = true;
  }

  /** Longest segment so far, ms: the target duration must cover it and never shrink. */
  get maxSegmentMs(): number {
    return Math.max(this.longestSeen, this.opts.longestMs());
  }

  /**
   * EXT-X-DISCONTINUITY-SEQUENCE: the first listed segment's number less
   * its own discontinuity. Marked: from the writer's count, so every thread
   * says the same; otherwise the discontinuities that left the window.
   */
  get discontinuitySequence(): number {
    const first = this.segments[0] ?? this.open;
    return first ? discontinuitySequenceOf(first, this.droppedDiscontinuities) : this.droppedDiscontinuities;
  }

  /** Init segment bytes of a version (the current one and any a window segment still points at). */
  init(version = this.initVersion): Buffer | undefined {
    return this.inits.get(version);
  }

  get currentInitVersion(): number {
    return this.initVersion;
  }

  /** The part the playlist's preload hint names: the next one to be emitted. */
  get nextPart(): { msn: number; index: number } {
    return this.open ? { msn: this.open.msn, index: this.open.parts.length } : { msn: this.nextMsn, index: 0 };
  }

  /** Bytes of every buffer held: window segments, the open segment's parts and init segments. */
  get heldBytes(): number {
    let n = 0;
    const parts = (s: HlsSegment): number => s.parts.reduce((m, p) => m + p.bytes.length + (p.ts?.length ?? 0), 0);
    for (const s of this.segments) n += (s.bytes?.length ?? parts(s)) + (s.ts?.length ?? 0);
    if (this.open) n += parts(this.open);
    for (const b of this.inits.values()) n += b.length;
    return n;
  }

  /** Segments that left the window since the last call, oldest first: the caller may free what it built from them. */
  takeDropped(): HlsSegment[] {
    const out = this.dropped;
    this.dropped = [];
    return out;
  }

  private newInit(tracks: StreamTracks): void {
    const list = trackList(tracks);
    const bytes = initSegment(list);
    this.tracks = tracks;
    this.queues = list.map((track) => ({
      track, samples: [], lastDts: undefined, pushed: 0, taken: 0,
      step: track.kind === 'video' ? DEFAULT_FRAME_MS : track.codec === 'opus' ? OPUS_FRAME_MS : (AAC_FRAME_SAMPLES * 1000) / track.sampleRate,
    }));
    this.inits.set(++this.initVersion, bytes);
    this.partStart = this.segStart = undefined;
    this.anchor = undefined;
    this.startMark = undefined;
    this.pruneInits();
  }

  private decideCut(d: number, key: boolean, step: number, mark: CutMark | undefined, wallMs: number | undefined): void {
    const video = this.queues[0]!.track.kind === 'video';
    const segment = this.opts.marked ? mark !== undefined
      : video ? key && d - this.segStart! >= this.opts.segmentMs : d + step - this.segStart! > this.opts.segmentMs;
    // Cut before this sample when keeping it (and one more like it) would take the part past its target.
    if (!segment && d + step - this.partStart! <= this.opts.partMs) return;
    // A marked segment cut splits every queue where the marked sample arrived (it is not pushed yet).
    this.cuts.push(segment && mark ? { dts: d, segment, mark: { ...mark, wallMs }, until: this.queues.map((q) => q.pushed) } : { dts: d, segment });
    this.partStart = d;
    if (segment) this.segStart = d;
  }

  /** Emits every decided part whose tracks all have a sample at or after its end. */
  private emitReady(): void {
    while (this.cuts.length > 0) {
      const cut = this.cuts[0]!;
      const until = cut.until;
      // Each track needs the sample after the part (its first sample's DTS ends the part's last one).
      const ready = until ? this.queues.every((q, i) => q.pushed > until[i]!) : this.queues.every((q) => q.samples.some((s) => s.dts >= cut.dts));
      if (!ready) return;
      this.cuts.shift();
      this.emitPart(cut.dts, cut.segment, until);
      // The cut starts the next segment: its number and date, when the writer gave them.
      if (cut.segment && cut.mark) this.startMark = cut.mark;
    }
  }

  /** Closes everything buffered, estimating the last samples' durations. */
  private flush(): void {
    if (this.queues.length === 0) return;
    for (const cut of this.cuts.splice(0)) this.emitPart(cut.dts, cut.segment, cut.until);
    if (this.queues[0]!.samples.length > 0) this.emitPart(undefined, true);
    else if (this.open) this.closeSegment();
    for (const q of this.queues) {
      q.taken += q.samples.length;
      q.samples = [];
    }
  }

  /** One part: each track's samples before `end` (all when undefined), or the first `until` pushed, as one moof+mdat. */
  private emitPart(end: number | undefined, closesSegment: boolean, until?: number[]): void {
    const runs: Fmp4Run[] = [];
    let start = 0;
    let primaryEnd = 0;
    let independent = true;
    for (const [i, q] of this.queues.entries()) {
      const n = until ? until[i]! - q.taken : end === undefined ? q.samples.length : q.samples.findIndex((s) => s.dts >= end);
      const samples = q.samples.splice(0, n < 0 ? q.samples.length : n);
      q.taken += samples.length;
      const last = samples[samples.length - 1];
      const endDts = q.samples[0]?.dts ?? (last ? last.dts + q.step : undefined);
      if (i === 0) {
        start = samples[0]!.dts;
        primaryEnd = endDts!;
        independent = q.track.kind === 'audio' || samples[0]!.key === true;
      }
      if (samples.length > 0) runs.push({ track: q.track, samples, endDts });
    }
    if (!this.open) {
      const m = this.startMark;
      this.startMark = undefined;
      if (m) this.nextMsn = m.msn;
      this.open = {
        msn: this.nextMsn++, startDts: start, durationMs: 0,
        programDateMs: m ? m.wallMs : this.anchor ? this.anchor.wallMs + (start - this.anchor.dts) : undefined,
        // Marked: the writer says where the timeline breaks (republish, new codec config), the same for every thread.
        discontinuity: m ? m.discontinuity : this.pendingDiscontinuity, dsn: m?.dsn,
        initVersion: this.initVersion, parts: [], bytes: undefined,
      };
      this.pendingDiscontinuity = false;
    }
    const durationMs = primaryEnd - start;
    const index = this.open.parts.length;
    // Marked: the fragment number follows from the part, so every thread writes the same bytes.
    const fragment = this.opts.marked ? (this.open.msn * 64 + index + 1) >>> 0 : this.fragmentSeq++;
    const bytes = this.opts.build(fragment, runs);
    const part: HlsPart = { msn: this.open.msn, index, durationMs, independent, bytes: EMPTY, built: false };
    this.open.parts.push(part);
    if (!(bytes instanceof Promise)) {
      setBytes(part, bytes);
    } else {
      this.pending++;
      const seg = this.open;
      bytes.then(
        (b) => {
          this.pending--;
          try {
            setBytes(part, b);
            if (seg !== this.open) this.join(seg);
          } catch (err) {
            // Not left as an unhandled rejection (it would end the worker): the caller restarts.
            return this.opts.failed(err);
          }
          this.opts.built();
        },
        (err: unknown) => {
          this.pending--;
          this.opts.failed(err);
        },
      );
    }
    this.open.durationMs += durationMs;
    if (closesSegment) this.closeSegment();
  }

  /** A closed segment's bytes, once every part has them: one buffer, its parts views of it (and its TS, if every part has one). */
  private join(seg: HlsSegment): void {
    if (seg.bytes || !seg.parts.every((p) => p.built)) return;
    const alloc = this.opts.alloc;
    if (seg.parts.every((p) => p.ts)) seg.ts = renumberTsParts(concatInto(seg.parts.map((p) => p.ts!), alloc));
    for (const p of seg.parts) p.ts = undefined;
    const all = concatInto(seg.parts.map((p) => p.bytes), alloc);
    let at = 0;
    for (const p of seg.parts) {
      p.bytes = all.subarray(at, at + p.bytes.length);
      at += p.bytes.length;
    }
    seg.bytes = all;
  }

  private closeSegment(): void {
    const seg = this.open!;
    this.open = undefined;
    this.join(seg);
    this.longestSeen = Math.max(this.longestSeen, seg.durationMs);
    this.segments.push(seg);
    while (this.segments.length > this.opts.windowSegments) this.dropFirst();
    this.pruneInits();
  }

  /** Drops the oldest complete segment before the window would (a memory bound); never the last one. */
  dropOldest(): boolean {
    if (this.segments.length <= 1) return false;
    this.dropFirst();
    this.pruneInits();
    return true;
  }

  private dropFirst(): void {
    const old = this.segments.shift()!;
    if (old.discontinuity) this.droppedDiscontinuities++;
    this.dropped.push(old);
  }

  /** Keeps the current init and those a window segment refers to. */
  private pruneInits(): void {
    const used = new Set([this.initVersion, ...this.segments.map((s) => s.initVersion)]);
    if (this.open) used.add(this.open.initVersion);
    for (const v of this.inits.keys()) if (!used.has(v)) this.inits.delete(v);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * EXT-X-DISCONTINUITY-SEQUENCE of a playlist that starts at `first`: its
 * number less its own discontinuity (RFC 8216 6.2.2), when the writer's
 * marks numbered it; otherwise `counted`.
 */
export function discontinuitySequenceOf(first: HlsSegment, counted: number): number {
  return first.dsn !== undefined ? first.dsn - (first.discontinuity ? 1 : 0) : counted;
}

function setBytes(part: HlsPart, b: Built): void {
  if (Buffer.isBuffer(b)) part.bytes = b;
  else ({ bytes: part.bytes, ts: part.ts } = b);
  part.built = true;
}

interface Cut {
  /** Primary-track DTS of the sample that starts the next part. */
  dts: number;
  segment: boolean;
  /** (marked) The writer's mark on that sample, with its arrival time. */
  mark?: CutMark & { wallMs: number | undefined };
  /** (marked) Per queue, how many samples had been pushed before the marked one: the split. */
  until?: number[];
}

function sameTracks(a: StreamTracks, b: StreamTracks): boolean {
  const same = (x?: Fmp4Track, y?: Fmp4Track): boolean =>
    x === y || (x !== undefined && y !== undefined && x.id === y.id && Buffer.from(x.config).equals(y.config));
  return same(a.video, b.video) && same(a.audio, b.audio);
}

/**
 * One stream's HLS on one worker: a subscriber of the stream's ring (the
 * ring-ref form: references, not copies) that feeds a marked Segmenter,
 * and the segments and parts it holds for every HLS viewer on this thread.
 *
 * Samples are views of the shared ring; a part is built from them when it
 * closes, and the build checks the oldest record was not overwritten
 * meanwhile (a ring lapped under a stalled thread): then the segmenter
 * starts again at the next cut mark. Segment numbers come from the marks,
 * so a restart, or another worker, lists the same segments.
 *
 * In a cluster this worker is the node's owner of the stream's HLS
 * (hls/ownership.ts): what it builds goes into shared memory (`alloc`),
 * and sharedState() is what the other workers' mirrors serve.
 */
import { createHash } from 'node:crypto';
import { arrivalAge, C_HLS_LONGEST, C_HLS_TS, type TagRing } from '../core/tag-ring.js';
import { describeError, SluiceError } from '../core/errors.js';
import { FrameType, parseVideoTagHeader } from '../protocol/video-tag.js';
import { TagType } from '../protocol/types.js';
import { PREV_TAG_SIZE, TAG_HEADER_SIZE } from '../protocol/flv-tag.js';
import { parseAudioTagHeader } from '../protocol/audio-tag.js';
import { aacTrack, av1Track, avcTrack, hevcTrack, mediaSegment, opusTrack, type Fmp4Run, type Fmp4Track } from '../hls/fmp4.js';
import { decodeMark } from '../hls/cut-marks.js';
import { Segmenter, type Built, type StreamTracks } from '../hls/segmenter.js';
import { trackList } from '../hls/segment-types.js';
import { tsRefusal } from '../hls/mpegts.js';
import { tsPart } from '../hls/remux-task.js';
import { published, tsPublished } from '../hls/published.js';
import type { PlaylistSource } from '../hls/playlist.js';
import { HlsSource, type Holding } from './hls-source.js';
import { shared } from './hls-share.js';
import type { SharedState } from './hls-wire.js';
import type { RemuxPool } from '../hls/remux-pool.js';
import { readRingRef, type RingRef } from '../media/egress/ring-ref-form.js';
import type { EgressForm, PlayerPolicy, PlayerTransport, SubscriberEvents } from '../media/types.js';
import type { Subscriber } from '../media/subscriber.js';
import type { PlayLease } from '../app/stream-service.js';
import type { Logger } from '../app/log.js';
import type { ErrorCode } from '../core/errors.js';


export interface HlsStreamOptions {
  segmentMs: number;
  partMs: number;
  windowSegments: number;
  form: EgressForm;
  policy: PlayerPolicy;
  /** Remux threads; without them parts are built on this thread. */
  pool?: RemuxPool | undefined;
  /** Segment build time (ms) of each part, for the histogram. */
  built?: (ms: number, bytes: number) => void;
  /** After every change of what is held. */
  grew?: () => void;
  /** Where built bytes go (default: this thread's heap; shared memory when other workers serve them). */
  alloc?: (size: number) => Buffer;
  /** The stream went live (its ring is there from now on). */
  published?: () => void;
}

type VideoCodecOfHls = 'avc' | 'hevc' | 'av1';
/** fMP4 carries these as avc1, hvc1 and av01; FLV's others (VP6, Sorenson...) have no HLS form. */
const VIDEO_TRACKS: Record<VideoCodecOfHls, (id: number, config: Uint8Array) => Fmp4Track> = { avc: avcTrack, hevc: hevcTrack, av1: av1Track };
type AudioCodecOfHls = 'aac' | 'opus';
/** AAC (legacy or E-RTMP 'mp4a') and E-RTMP 'Opus'; MP3, Speex and the rest are left out. */
const AUDIO_TRACKS: Record<AudioCodecOfHls, (id: number, config: Uint8Array) => Fmp4Track> = { aac: aacTrack, opus: opusTrack };

export class HlsStream extends HlsSource implements PlayerTransport, SubscriberEvents {
  readonly key: string;
  seg: Segmenter;
  readonly writableLength = 0;
  /** Its ownership token when other workers may mirror it (hls/ownership.ts). */
  token: number | undefined;
  /** When a mirror on another worker last asked for its state. */
  mirroredAt = 0;
  /** Segmenters started (a restart starts one): what a mirror caches is named by it. */
  generation = 0;
  private sub: Subscriber | undefined;
  /** The video sequence header's record, and which codec it is for. */
  private videoConfig: Uint8Array | undefined;
  private videoCodec: VideoCodecOfHls = 'avc';
  /** The audio sequence header's config (AudioSpecificConfig or OpusHead), and its codec. */
  private asc: Uint8Array | undefined;
  private audioCodec: AudioCodecOfHls = 'aac';
  private tracks: StreamTracks | undefined;
  private readonly initNames = new Map<number, string>();
  private readonly log: Logger;

  constructor(
    private readonly lease: PlayLease,
    private readonly opts: HlsStreamOptions,
    log: Logger,
  ) {
    super();
    this.key = lease.stream.key;
    this.log = log.child({ streamKey: this.key });
    this.seg = this.newSegmenter();
  }

  start(): void {
    this.sub = this.lease.subscribe(this.opts.form, this, this, this.opts.policy);
  }

  get ring(): TagRing {
    return this.lease.stream.ring!;
  }

  private newSegmenter(): Segmenter {
    const { segmentMs, partMs, windowSegments } = this.opts;
    const seg: Segmenter = new Segmenter({
      segmentMs, partMs, windowSegments, marked: true, build: this.build,
      ...(this.opts.alloc ? { alloc: this.opts.alloc } : {}),
      longestMs: () => this.ring.ctl[C_HLS_LONGEST]!,
      // Answers of a segmenter since replaced (restart) are dropped.
      built: () => seg === this.seg && this.changed(),
      failed: (err) => seg === this.seg && this.restart(err),
    });
    return seg;
  }

  /**
   * Builds a part from ring views (as MPEG-TS too once a TS playlist was
   * asked for), on a remux thread when there is a pool; fails when the ring
   * lapped one of them before the copy was done.
   */
  private readonly build = (fragment: number, runs: readonly Fmp4Run[]): Built | Promise<Built> => {
    const t0 = performance.now();
    const pool = this.opts.pool;
    const ts = this.tsWanted ? (this.tracks ? trackList(this.tracks) : []) : undefined;
    const place = this.opts.alloc ? shared : (b: Buffer): Buffer => b;
    const done = (b: { bytes: Buffer; ts: Buffer | undefined; tsError: string | undefined }): Built => {
      if (b.tsError !== undefined) this.noTs(b.tsError);
      this.opts.built?.(performance.now() - t0, b.bytes.length + (b.ts?.length ?? 0));
      return { bytes: place(b.bytes), ts: b.ts && place(b.ts) };
    };
    if (pool) return pool.build(fragment, runs, this.ring, ts).then(done);
    const bytes = mediaSegment(fragment, runs);
    const t = ts ? tsPart(runs, ts) : { ts: undefined, tsError: undefined };
    let oldest: number | undefined;
    for (const r of runs) {
      const ref = r.samples[0]?.ref;
      if (ref !== undefined && (oldest === undefined || ((ref - oldest) | 0) < 0)) oldest = ref;
    }
    if (oldest !== undefined && !this.ring.intact(oldest)) throw new SluiceError('ERR_SLOW_CONSUMER', 'hls: the ring was overwritten under a part being built');
    return done({ bytes, ...t });
  };

  /** Why TS stopped for this stream here (a part MPEG-TS could not carry); TS requests get 415 with it. */
  private tsRefused: string | undefined;

  /** TS is built once any worker was asked for it (the ring's HLS_TS word), so all of them list the same TS segments. */
  private get tsWanted(): boolean {
    return this.tsRefused === undefined && Atomics.load(this.ring.ctl, C_HLS_TS) === 1;
  }

  /** A TS build failed: the fMP4 part stands; TS stops here (logged once). */
  private noTs(why: string): void {
    if (this.tsRefused !== undefined) return;
    this.tsRefused = why;
    this.log.warn({ code: 'ERR_CODEC', reason: why }, 'hls: MPEG-TS stopped for this stream');
  }

  /**
   * Why this stream has no MPEG-TS form (AV1 and Opus, or a config ADTS
   * or Annex B cannot express), or undefined: then TS starts, for every
   * worker segmenting the stream.
   */
  askTs(): string | undefined {
    return this.tsAsked(this.ring.ctl, this.tracks, this.tsWhy());
  }

  private tsWhy(): string | undefined {
    return this.tracks ? (this.tsRefused ?? tsRefusal(trackList(this.tracks))) : undefined;
  }

  // ---- PlayerTransport / SubscriberEvents ------------------------------------------

  write(chunks: Buffer[]): void {
    if (this.endReason !== undefined || this.unsupported !== undefined) return;
    const before = this.stamp();
    const now = Date.now();
    for (const c of chunks) {
      if (this.unsupported !== undefined) break;
      try {
        this.take(readRingRef(c), now);
      } catch (err) {
        this.restart(err);
      }
    }
    if (this.stamp() !== before) this.changed();
  }

  onUnpublish(): void {}

  onPublish(): void {
    this.opts.published?.();
  }

  onStreamEnd(reason: string): void {
    if (this.endReason !== undefined) return;
    this.endReason = reason;
    if (this.tracks) this.seg.end();
    this.changed();
  }

  onEvict(code: ErrorCode, reason: string): void {
    this.restart(new SluiceError(code, reason));
  }

  // ---- ingest --------------------------------------------------------------------

  private take(ref: RingRef, now: number): void {
    if (ref.type !== TagType.Video && ref.type !== TagType.Audio) return;
    const body = ref.body ?? this.ring.data.subarray(ref.offset + TAG_HEADER_SIZE, ref.offset + ref.length - PREV_TAG_SIZE);
    if (body.length === 0) return;
    const wallMs = now - arrivalAge(ref.arrival, now);
    const mark = decodeMark(ref.mark, this.ring.ctl);
    if (ref.type === TagType.Video) {
      const h = this.header(parseVideoTagHeader, body);
      if (!h) return;
      const track = VIDEO_TRACKS[h.codec as VideoCodecOfHls];
      if (!track) return this.refuse(`video codec ${h.codec} (HLS here carries H.264, HEVC and AV1)`);
      const data = body.subarray(h.dataOffset, h.dataEnd);
      if (h.packet === 'sequence-start') {
        this.videoCodec = h.codec as VideoCodecOfHls;
        return this.config('video', data);
      }
      if (h.packet !== 'coded-frames' || !this.tracksFor()?.video) return;
      this.seg.push('video', { dts: ref.timestamp, cts: h.cts, key: h.frameType === FrameType.Key, data, ref: ref.seq < 0 ? undefined : ref.seq }, wallMs, mark);
    } else {
      const h = this.header(parseAudioTagHeader, body);
      if (!h) return;
      if (!AUDIO_TRACKS[h.codec as AudioCodecOfHls]) return; // other audio stays out; video alone still plays
      const data = body.subarray(h.dataOffset, h.dataEnd);
      if (h.packet === 'sequence-start') {
        this.audioCodec = h.codec as AudioCodecOfHls;
        return this.config('audio', data);
      }
      if (h.packet !== 'coded-frames' || !this.tracksFor()?.audio) return;
      this.seg.push('audio', { dts: ref.timestamp, data, ref: ref.seq < 0 ? undefined : ref.seq }, wallMs, mark);
    }
  }

  /** A sequence header (copied: the ring moves on). A changed one gives the segmenter a new init. */
  private config(kind: 'video' | 'audio', data: Uint8Array): void {
    if (kind === 'video') this.videoConfig = Uint8Array.from(data);
    else this.asc = Uint8Array.from(data);
    if (!this.tracks) return;
    const tracks = this.trackSet();
    if (this.unsupported !== undefined) return;
    // A track that appears after frames began would change the stream's layout: the first set stays.
    if (tracks.video && !this.tracks.video) delete tracks.video;
    if (tracks.audio && !this.tracks.audio) delete tracks.audio;
    if (!tracks.video && !tracks.audio) return;
    this.tracks = tracks;
    this.seg.setTracks(tracks);
  }

  /** A tag header the protocol layer cannot read: that frame is left out (logged once per stream), the rest goes on. */
  private header<H>(parse: (b: Uint8Array) => H, body: Uint8Array): H | undefined {
    try {
      return parse(body);
    } catch (err) {
      if (!this.badFrameLogged) {
        this.badFrameLogged = true;
        this.log.warn({ code: err instanceof SluiceError ? err.code : 'ERR_CODEC', reason: describeError(err) }, 'hls: unreadable frame left out');
      }
      return undefined;
    }
  }

  private badFrameLogged = false;

  /**
   * The tracks, fixed at the first coded frame from the sequence headers
   * known by then (a new reader gets both before any frame); a stream with
   * video does not start on audio before its video header.
   */
  private tracksFor(): StreamTracks | undefined {
    if (this.tracks) return this.tracks;
    if (!this.videoConfig && (this.lease.stream.hasVideo || !this.asc)) return undefined;
    const tracks = this.trackSet();
    if (this.unsupported !== undefined) return undefined;
    this.tracks = tracks;
    this.seg.setTracks(tracks);
    return tracks;
  }

  /** The tracks of the sequence headers held; a record that does not parse refuses HLS for the stream (415), once. */
  private trackSet(): StreamTracks {
    const tracks: StreamTracks = {};
    try {
      if (this.videoConfig) tracks.video = VIDEO_TRACKS[this.videoCodec](1, this.videoConfig);
      if (this.asc) tracks.audio = AUDIO_TRACKS[this.audioCodec](2, this.asc);
    } catch (err) {
      this.refuse(`bad codec configuration: ${describeError(err)}`);
    }
    return tracks;
  }

  private refuse(why: string): void {
    if (this.unsupported !== undefined) return;
    this.unsupported = why;
    this.log.warn({ code: 'ERR_CODEC', reason: why }, 'hls: stream not served');
    this.changed();
  }

  /** A failed build or a lapped ring: everything held goes; the next cut mark starts again with its own number. */
  private restart(err: unknown): void {
    this.log.warn({ code: err instanceof SluiceError ? err.code : 'ERR_INTERNAL', reason: describeError(err) }, 'hls: segmenter restarted');
    this.seg = this.newSegmenter();
    this.generation++;
    this.initNames.clear();
    if (this.tracks) this.seg.setTracks(this.tracks);
    this.version++;
  }

  // ---- what requests read ------------------------------------------------------------

  /** What playlists list: all of it, but for parts still being built on a remux thread. */
  get view(): PlaylistSource {
    return published(this.seg);
  }

  /** Has something to list: a complete segment and no part in the works (a new reader's backlog is built first), or the stream ended. */
  get ready(): boolean {
    return (this.seg.pending === 0 && this.seg.segments.length > 0) || this.endReason !== undefined || this.unsupported !== undefined;
  }

  get building(): boolean {
    return this.seg.pending > 0;
  }

  get ended(): boolean {
    return this.seg.ended;
  }

  get maxSegmentMs(): number {
    return this.seg.maxSegmentMs;
  }

  protected holding(): Holding {
    return this.seg;
  }

  get trackLayout(): StreamTracks | undefined {
    return this.tracks;
  }

  get tsView(): PlaylistSource {
    return tsPublished(this.view);
  }

  /** What a mirror on another worker serves: the published view, its inits (in shared memory) and the stream's standing. */
  sharedState(): SharedState {
    const view = this.view;
    const inits: [number, string, Buffer][] = [];
    const kept = new Map<string, Buffer>();
    for (const v of new Set([...view.segments, ...(view.open ? [view.open] : [])].map((s) => s.initVersion))) {
      const name = this.initName(v);
      const bytes = this.initByName(name);
      if (!bytes) continue;
      const sh = this.sharedInits.get(name) ?? shared(bytes);
      kept.set(name, sh);
      inits.push([v, name, sh]);
    }
    this.sharedInits = kept;
    return {
      view, ready: this.ready, building: this.building, ended: this.ended,
      endReason: this.endReason, unsupported: this.unsupported, tracks: this.tracks, tsWhy: this.tsWhy(), inits,
    };
  }

  /** The inits the last state named, in shared memory. */
  private sharedInits = new Map<string, Buffer>();

  initByName(name: string): Buffer | undefined {
    for (const s of [...this.seg.segments, ...(this.seg.open ? [this.seg.open] : [])]) {
      if (this.initName(s.initVersion) === name) return this.seg.init(s.initVersion);
    }
    return undefined;
  }

  /** Versions are per segmenter, names are not. */
  initName(version: number): string {
    let n = this.initNames.get(version);
    if (n === undefined) {
      const bytes = this.seg.init(version);
      n = bytes ? createHash('sha1').update(bytes).digest('hex').slice(0, 16) : 'none';
      this.initNames.set(version, n);
    }
    return n;
  }

  get heldBytes(): number {
    return this.seg.heldBytes;
  }

  /** Drops the oldest complete segment (the memory bound); false when only one is left. */
  trimOldest(): boolean {
    if (!this.seg.dropOldest()) return false;
    this.changed();
    return true;
  }

  close(): void {
    this.sub?.close();
    this.lease.release();
    this.endReason ??= 'closed';
    this.changed();
    this.dropWaiters();
  }

  private stamp(): string {
    const s = this.seg;
    return `${s.segments.length}.${s.segments[0]?.msn}.${s.open?.msn}.${s.open?.parts.length}.${s.ended}`;
  }

  private changed(): void {
    this.version++;
    this.seg.takeDropped();
    this.opts.grew?.();
    this.notify();
  }
}


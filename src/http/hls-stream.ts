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
import { Segmenter, type Built, type HlsSegment, type StreamTracks } from '../hls/segmenter.js';
import { trackList } from '../hls/segment-types.js';
import { tsRefusal } from '../hls/mpegts.js';
import { tsPart } from '../hls/remux-task.js';
import { published, tsPublished } from '../hls/published.js';
import type { PlaylistSource } from '../hls/playlist.js';
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
}

type VideoCodecOfHls = 'avc' | 'hevc' | 'av1';
/** The playlists rendered per version: fMP4 (full or delta update) and MPEG-TS. */
type PlaylistKind = 'fmp4' | 'fmp4-skip' | 'ts';
/** fMP4 carries these as avc1, hvc1 and av01; FLV's others (VP6, Sorenson...) have no HLS form. */
const VIDEO_TRACKS: Record<VideoCodecOfHls, (id: number, config: Uint8Array) => Fmp4Track> = { avc: avcTrack, hevc: hevcTrack, av1: av1Track };
type AudioCodecOfHls = 'aac' | 'opus';
/** AAC (legacy or E-RTMP 'mp4a') and E-RTMP 'Opus'; MP3, Speex and the rest are left out. */
const AUDIO_TRACKS: Record<AudioCodecOfHls, (id: number, config: Uint8Array) => Fmp4Track> = { aac: aacTrack, opus: opusTrack };

export class HlsStream implements PlayerTransport, SubscriberEvents {
  readonly key: string;
  seg: Segmenter;
  /** Why the stream ended (ENDLIST written), or undefined while live. */
  endReason: string | undefined;
  /** A codec HLS cannot carry here: requests are answered 415 with this. */
  unsupported: string | undefined;
  lastRequestAt = Date.now();
  readonly writableLength = 0;
  /** Bumped whenever the playlist would read differently. */
  version = 0;
  private sub: Subscriber | undefined;
  /** The video sequence header's record, and which codec it is for. */
  private videoConfig: Uint8Array | undefined;
  private videoCodec: VideoCodecOfHls = 'avc';
  /** The audio sequence header's config (AudioSpecificConfig or OpusHead), and its codec. */
  private asc: Uint8Array | undefined;
  private audioCodec: AudioCodecOfHls = 'aac';
  private tracks: StreamTracks | undefined;
  private readonly waiters = new Set<() => boolean>();
  private readonly initNames = new Map<number, string>();
  private readonly log: Logger;

  constructor(
    private readonly lease: PlayLease,
    private readonly opts: HlsStreamOptions,
    log: Logger,
  ) {
    this.key = lease.stream.key;
    this.log = log.child({ streamKey: this.key });
    this.seg = this.newSegmenter();
  }

  start(): void {
    this.sub = this.lease.subscribe(this.opts.form, this, this, this.opts.policy);
  }

  private get ring(): TagRing {
    return this.lease.stream.ring!;
  }

  private newSegmenter(): Segmenter {
    const { segmentMs, partMs, windowSegments } = this.opts;
    const seg: Segmenter = new Segmenter({
      segmentMs, partMs, windowSegments, marked: true, build: this.build,
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
    const done = (b: { bytes: Buffer; ts: Buffer | undefined; tsError: string | undefined }): Built => {
      if (b.tsError !== undefined) this.noTs(b.tsError);
      this.opts.built?.(performance.now() - t0, b.bytes.length + (b.ts?.length ?? 0));
      return { bytes: b.bytes, ts: b.ts };
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
    const tracks = this.tracks ? trackList(this.tracks) : [];
    if (tracks.length === 0) return undefined;
    const why = this.tsRefused ?? tsRefusal(tracks);
    if (why !== undefined) return `${why} (use the .m3u8 playlist)`;
    Atomics.store(this.ring.ctl, C_HLS_TS, 1);
    return undefined;
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

  onPublish(): void {}

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

  /** A playlist's text for the current version, rendered once per version and kind. */
  rendered(kind: PlaylistKind, render: () => string): string {
    const have = this.renders.get(kind);
    if (have && have.version === this.version) return have.text;
    const text = render();
    this.renders.set(kind, { version: this.version, text });
    return text;
  }

  private readonly renders = new Map<PlaylistKind, { version: number; text: string }>();

  /** The tracks segmented, once the first frame fixed them. */
  get trackLayout(): StreamTracks | undefined {
    return this.tracks;
  }

  /** What the MPEG-TS playlist lists: complete segments that have their TS. */
  get tsView(): PlaylistSource {
    return tsPublished(this.seg);
  }

  /** Segment msn, complete and built, in the window; undefined when gone or not yet there. */
  segment(msn: number): HlsSegment | undefined {
    const s = this.seg.segments.find((x) => x.msn === msn);
    return s?.bytes ? s : undefined;
  }

  /** Part bytes of msn.index once built (complete segments and the open one). */
  part(msn: number, index: number): Buffer | undefined {
    const s = this.seg.open?.msn === msn ? this.seg.open : this.seg.segments.find((x) => x.msn === msn);
    const p = s?.parts[index];
    return p?.built ? p.bytes : undefined;
  }

  /** Init bytes by their name's hash. */
  initByName(name: string): Buffer | undefined {
    for (const s of [...this.seg.segments, ...(this.seg.open ? [this.seg.open] : [])]) {
      if (this.initName(s.initVersion) === name) return this.seg.init(s.initVersion);
    }
    return undefined;
  }

  /** The init's name: a hash of its bytes, the same on every worker (versions are per segmenter). */
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

  /** `check` runs after every change until it returns true (then it is dropped). */
  wait(check: () => boolean): () => void {
    if (check()) return () => {};
    this.waiters.add(check);
    return () => this.waiters.delete(check);
  }

  close(): void {
    this.sub?.close();
    this.lease.release();
    this.endReason ??= 'closed';
    this.changed();
    this.waiters.clear();
  }

  private stamp(): string {
    const s = this.seg;
    return `${s.segments.length}.${s.segments[0]?.msn}.${s.open?.msn}.${s.open?.parts.length}.${s.ended}`;
  }

  private changed(): void {
    this.version++;
    this.seg.takeDropped();
    this.opts.grew?.();
    for (const w of [...this.waiters]) if (w()) this.waiters.delete(w);
  }
}


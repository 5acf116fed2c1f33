/**
 * One worker's view of a live stream, over its slab (stream-slab.ts).
 * On the stream's home worker it is also the writer: ingest writes each
 * audio/video body once, straight into the ring. Elsewhere it is a reader
 * woken by "head" notes from the home worker. Either way its local
 * subscribers are pumped once per event-loop turn, not per tag.
 */
import type { MessagePort } from 'node:worker_threads';
import { TagFlag, type TagRing } from '../core/tag-ring.js';
import { SluiceError } from '../core/errors.js';
import { TagType, type AudioCodec, type VideoCodec } from '../protocol/types.js';
import { inspectVideo } from '../protocol/video-tag.js';
import { inspectAudio } from '../protocol/audio-tag.js';
import { EgressCache } from './egress/cache.js';
import { Subscriber } from './subscriber.js';
import { TimestampPolicy, Track } from './timestamp.js';
import { StickySlot, StreamSlab } from './stream-slab.js';
import { HlsCutter } from '../hls/cut-marks.js';
import type { EgressForm, LatencyRecorder, StreamOptions, MediaCounters, PlayerPolicy, PlayerTransport, StickyTags, StreamView, SubscriberEvents } from './types.js';

/** The ingest's answer to "your partial message now continues in `to`" (see LiveStream.append). */
export type DestinationMoved = (from: Uint8Array, to: Uint8Array) => void;

export interface StreamInfo {
  videoCodec?: VideoCodec;
  audioCodec?: AudioCodec;
  /** onMetaData fields as sent by the encoder (width, height, framerate, ...). */
  metadata?: Record<string, unknown>;
}

/** What a view without a slab (a name only awaited) shows its players: nothing yet. */
const NO_STICKY: StickyTags = { version: 0 };

export class LiveStream implements StreamView {
  /** The stream's shared memory; null while the name is only awaited (it comes with the publisher). */
  private slabOrNull: StreamSlab | null = null;
  readonly subscribers = new Set<Subscriber>();
  private readonly caches = new Map<string, EgressCache>();
  /** The stream has a publisher (here or on another worker). */
  live = false;
  /** Owner id of the local publisher while this worker is the stream's home. */
  publisher: number | undefined;
  /** What writes it here: an encoder's session, or an edge upstream pulling it from an origin. */
  source: 'publisher' | 'pull' = 'publisher';
  /** (pulled) Whether the directory was last told this home has local players. */
  watchedNoted = false;
  private timestamps: TimestampPolicy | null = null;
  /** Marks HLS segment starts in the ring while a local publisher writes it. */
  private cutter: HlsCutter | null = null;
  readonly info: StreamInfo = {};
  readonly counters: MediaCounters = { tagsIn: 0, bytesIn: 0, tagsDropped: 0, playersEvicted: 0, resyncs: 0 };
  readonly createdAt = Date.now();
  publishedAt = 0;
  /** Destination of the open ring reservation (an in-progress RTMP message), and who fills it. */
  private ringDest: Uint8Array | null = null;
  private ringDestMoved: DestinationMoved | null = null;
  private flushScheduled = false;
  /** When the pending flush is audio waiting for a video frame (StreamOptions.audioHoldMs): its timer and when it is due (wall ms). */
  private heldFlush: NodeJS.Timeout | undefined;
  private heldDue = 0;
  /** The video frame interval, from the last two frames' timestamps (ms; Infinity until known). */
  private videoIntervalMs = Infinity;
  private lastVideoTs = -1;
  /** Home side: ports of other workers reading this stream, and the head last told. */
  private readonly outPorts = new Map<MessagePort, number>();
  /** Reader side: the port the home worker's notes arrive on. */
  private inPort: MessagePort | null = null;
  closed = false;

  constructor(
    readonly app: string,
    readonly name: string,
    /** Directory entry id: distinguishes this stream from a later one of the same name. */
    readonly entryId: number,
    /** Undefined for a name only awaited: attachSlab() brings it with the publisher. */
    sab: SharedArrayBuffer | undefined,
    private readonly opts: StreamOptions,
  ) {
    if (sab) this.attachSlab(sab);
  }

  /** The directory's slab for this entry (once: later notices carry the same one). */
  attachSlab(sab: SharedArrayBuffer): void {
    if (this.slabOrNull) return;
    this.slabOrNull = new StreamSlab(sab);
    if (this.live) this.scheduleFlush(true);
  }

  /** The slab; only a stream that has (had) a publisher has one. */
  get slab(): StreamSlab {
    if (!this.slabOrNull) throw new SluiceError('ERR_INTERNAL', `${this.key}: no stream slab yet`);
    return this.slabOrNull;
  }

  get key(): string {
    return `${this.app}/${this.name}`;
  }

  get ring(): TagRing | null {
    return this.slabOrNull?.ring ?? null;
  }

  get sticky(): StickyTags {
    return this.slabOrNull?.sticky() ?? NO_STICKY;
  }

  get hasVideo(): boolean {
    return this.slabOrNull?.hasVideo ?? false;
  }

  get hasAudio(): boolean {
    return this.slabOrNull?.hasAudio ?? false;
  }

  get isHome(): boolean {
    return this.publisher !== undefined;
  }

  latestTimestamp(): number {
    return this.slabOrNull?.latestTimestamp() ?? 0;
  }

  // ---- publisher lifecycle -------------------------------------------------------

  /** A local publisher takes the stream: first publish, or a republish here or after another worker. */
  startPublishing(owner: number): void {
    if (this.publisher !== undefined) throw new SluiceError('ERR_STREAM', `${this.key}: already publishing`);
    this.setRemote(null);
    this.publisher = owner;
    this.publishedAt = Date.now();
    // Continue after whatever players of this ring have already seen.
    this.timestamps = new TimestampPolicy(this.opts.maxTimestampJumpMs, this.slab.latestTimestamp());
    const hls = this.opts.hlsSegmentMs;
    this.cutter = hls ? new HlsCutter(hls, this.slab.ring) : null;
    if (this.cutter && this.slab.hasVideo) this.cutter.hasVideo = true;
    this.markLive(true);
  }

  /**
   * The same publisher continues from another source (an edge's upstream
   * failed over to the next origin): its first tag is placed after what
   * players saw, as on a republish, and a half-received message is dropped.
   */
  newSource(): void {
    this.abandonMedia();
    this.timestamps?.newPublisher();
  }

  stopPublishing(owner: number): void {
    if (this.publisher !== owner) return;
    this.abandonMedia();
    this.publisher = undefined;
    this.timestamps = null;
    this.cutter = null;
    for (const p of this.outPorts.keys()) p.close();
    this.outPorts.clear();
    this.markLive(false);
  }

  /** The publisher (here or elsewhere) came or went: tell local players once per change. */
  markLive(live: boolean): void {
    if (this.live === live) return;
    // Going down: what the ring already holds goes out before StreamEOF/UnpublishNotify (a reader worker gets no more notes).
    if (!live) for (const s of this.subscribers) s.pump();
    this.live = live;
    for (const s of this.subscribers) {
      if (live) s.events.onPublish();
      else s.events.onUnpublish();
    }
    if (live) this.scheduleFlush();
  }

  // ---- cross-worker notes --------------------------------------------------------

  /** Home side: another worker reads this stream; tell it the head once per turn. */
  addReader(port: MessagePort): void {
    this.outPorts.set(port, -1);
    port.on('close', () => this.outPorts.delete(port));
    this.scheduleFlush();
  }

  /** Reader side: follow the home worker's notes on `port` (null: none). */
  setRemote(port: MessagePort | null): void {
    if (this.inPort) this.inPort.close();
    this.inPort = port;
    if (port) {
      // The home worker already merged its writes: pump on its note at once.
      port.on('message', () => this.scheduleFlush(true));
      this.scheduleFlush(true);
    }
  }

  // ---- ingest (home worker only) -------------------------------------------------

  /**
   * Where an incoming audio/video body of `length` bytes goes: straight into
   * the ring; or, while another message is still being assembled there
   * (interleaved chunk streams), a buffer of its own copied in at commit.
   * `moved` is told if the partial message must leave the ring (see append).
   */
  beginMedia(length: number, moved: DestinationMoved): Uint8Array {
    const ring = this.slab.ring;
    if (length > ring.maxBody) {
      throw new SluiceError('ERR_MESSAGE_TOO_LARGE', `${this.key}: media message ${length} bytes exceeds ring limit ${ring.maxBody}`);
    }
    if (this.ringDest !== null) return Buffer.allocUnsafe(length);
    const at = ring.reserve(length);
    this.ringDest = ring.data.subarray(at, at + length);
    this.ringDestMoved = moved;
    return this.ringDest;
  }

  abandonMedia(dest?: Uint8Array): void {
    if (this.ringDest !== null && (dest === undefined || dest === this.ringDest)) {
      this.slab.ring.cancel();
      this.ringDest = null;
      this.ringDestMoved = null;
    }
  }

  /**
   * Appends a whole tag. The ring's one reservation may be held by a
   * message still being assembled (RTMP lets chunk streams interleave, so a
   * short audio or data message can complete inside a long video one):
   * that partial message then moves to a buffer of its own, so tags enter
   * the ring in the order they complete. It costs one copy, only then.
   */
  private append(type: number, timestamp: number, flags: number, body: Uint8Array, mark = 0): number {
    const partial = this.ringDest;
    if (partial !== null) {
      const copy = Buffer.from(partial);
      const moved = this.ringDestMoved!;
      this.abandonMedia();
      moved(partial, copy);
    }
    return this.slab.ring.append(type, timestamp, flags, body, mark);
  }

  /** A whole audio/video message: classify, correct its timestamp, publish it. */
  commitMedia(type: number, timestamp: number, body: Uint8Array): void {
    const slab = this.slab;
    let flags = 0;
    let track: number = Track.Data;
    if (body.length > 0 && type === TagType.Video) {
      track = Track.Video;
      const v = inspectVideo(body);
      if (!slab.hasVideo) slab.markTrack(true);
      this.info.videoCodec = v.codec;
      if (v.key) flags |= TagFlag.Key;
      if (v.sequenceEnd) flags |= TagFlag.SequenceEnd;
      if (v.sequenceHeader) flags |= TagFlag.SequenceHeader;
    } else if (body.length > 0 && type === TagType.Audio) {
      track = Track.Audio;
      const a = inspectAudio(body);
      if (!slab.hasAudio) slab.markTrack(false);
      this.info.audioCodec = a.codec;
      if (a.sequenceHeader) flags |= TagFlag.SequenceHeader;
    }
    const ts = this.correct(track, timestamp);
    if (track === Track.Video && !(flags & TagFlag.SequenceHeader)) this.noteVideoFrame(ts);
    const mark = this.cutter?.mark(type, ts, flags, body) ?? 0;
    let seq: number;
    if (body === this.ringDest) {
      this.ringDest = null;
      this.ringDestMoved = null;
      seq = this.slab.ring.commit(type, ts, flags, mark);
    } else {
      seq = this.append(type, ts, flags, body, mark);
    }
    // After the ring took it (a body it refuses must not become sticky), with the record that carries it.
    if (flags & TagFlag.SequenceHeader) {
      slab.writeSticky(type === TagType.Video ? StickySlot.VideoHeader : StickySlot.AudioHeader, ts, body, seq);
    }
    this.counters.tagsIn++;
    this.counters.bytesIn += body.length;
    this.scheduleFlush(false, track);
  }

  private noteVideoFrame(ts: number): void {
    const step = ts - this.lastVideoTs;
    // Equal timestamps (a frame in several messages) and the first frame leave the interval as it was.
    if (this.lastVideoTs >= 0 && step > 0) this.videoIntervalMs = step;
    this.lastVideoTs = ts;
  }

  /** onMetaData (already unwrapped from @setDataFrame): sticky and in-band. */
  commitMetadata(timestamp: number, body: Uint8Array, fields: Record<string, unknown>): void {
    const ts = this.correct(Track.Data, timestamp);
    const seq = this.append(TagType.Script, ts, TagFlag.Metadata, body);
    this.slab.writeSticky(StickySlot.Metadata, ts, body, seq);
    this.info.metadata = fields;
    // Tracks announced by the encoder count before their first tag: players joining
    // early must wait for a keyframe, and FLV headers must announce both tracks.
    if ((fields.videocodecid !== undefined || fields.width !== undefined) && !this.slab.hasVideo) this.slab.markTrack(true);
    if (this.cutter && this.slab.hasVideo) this.cutter.hasVideo = true;
    if ((fields.audiocodecid !== undefined || fields.audiosamplerate !== undefined) && !this.slab.hasAudio) this.slab.markTrack(false);
    this.scheduleFlush();
  }

  /** Other data messages (onCuePoint, onTextData...) pass through in-band. */
  commitData(timestamp: number, body: Uint8Array): void {
    this.append(TagType.Script, this.correct(Track.Data, timestamp), 0, body);
    this.scheduleFlush();
  }

  private correct(track: number, timestamp: number): number {
    if (!this.timestamps) throw new SluiceError('ERR_PROTOCOL', `${this.key}: media without a publisher`);
    const jumps = this.timestamps.jumps;
    const ts = this.timestamps.correct(track, timestamp);
    if (this.timestamps.jumps !== jumps) this.opts.onTimestampJump?.(this.key, this.timestamps.lastJumpMs);
    this.slab.setLatestTimestamp(this.timestamps.latest());
    return ts;
  }

  // ---- fan-out -------------------------------------------------------------------

  /** Some player here has not had its first frame yet: flush at once, not after the merge window. */
  private startPending = false;

  /** `track`: the new tag's; audio may wait for the next video frame (StreamOptions.audioHoldMs). */
  private scheduleFlush(now = false, track: number = Track.Data): void {
    if (this.closed) return;
    const audio = track === Track.Audio;
    // Only a held audio flush gives way to a sooner one; any other pending flush stands.
    if (this.flushScheduled && (this.heldFlush === undefined || audio)) return;
    // A player still waiting for its first picture is not held back by the merge window (time to first frame).
    const window = now || this.startPending ? 0 : this.opts.mergeWindowMs();
    const hold = this.opts.audioHoldMs ?? 0;
    const pairing = window > 0 && hold > window && this.hasVideo;
    // While audio waits for the next video frame, that frame is what the merged write waits for. When the
    // window is shorter than the frame interval it goes at once: waiting would merge no second frame and
    // only add the window to video latency.
    const ms = pairing && track === Track.Video && window < this.videoIntervalMs ? 0 : window;
    if (this.heldFlush !== undefined) {
      // The video frame the held audio waited for: both go out after the window, if that is sooner.
      if (Date.now() + ms >= this.heldDue) return;
      clearTimeout(this.heldFlush);
      this.heldFlush = undefined;
    }
    this.flushScheduled = true;
    if (audio && pairing) {
      this.heldDue = Date.now() + hold;
      this.heldFlush = setTimeout(this.flush, hold);
    } else if (ms === 0) setImmediate(this.flush);
    else setTimeout(this.flush, ms);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    this.heldFlush = undefined;
    if (this.closed) return;
    let pending = false;
    for (const s of this.subscribers) {
      s.pump();
      if (s.awaitingFirstFrame) pending = true;
    }
    this.startPending = pending;
    if (this.outPorts.size > 0) {
      const head = this.slab.ring.head();
      for (const [port, told] of this.outPorts) {
        if (told === head) continue;
        this.outPorts.set(port, head);
        port.postMessage(head);
      }
    }
  };

  addSubscriber(form: EgressForm, transport: PlayerTransport, events: SubscriberEvents, policy: PlayerPolicy, latency?: LatencyRecorder): Subscriber {
    if (this.closed) throw new SluiceError('ERR_STREAM', `${this.key}: stream closed`);
    const sub = new Subscriber(this, form, transport, events, policy, latency);
    this.subscribers.add(sub);
    // A new player gets its start (sticky tags, GOP cache) without waiting for a merge window.
    setImmediate(() => sub.pump());
    this.startPending = true;
    return sub;
  }

  removeSubscriber(sub: unknown): void {
    const gone = sub as Subscriber;
    if (!this.subscribers.delete(gone)) return;
    // A cache nobody reads any more holds up to a ring's worth of egress bytes: drop it.
    const id = gone.form.id;
    for (const s of this.subscribers) if (s.form.id === id) return;
    this.caches.delete(id);
  }

  /** Egress caches alive (one per form some player here uses). */
  get cacheCount(): number {
    return this.caches.size;
  }

  /** The shared egress cache of a form. */
  cacheFor(form: EgressForm): EgressCache {
    let c = this.caches.get(form.id);
    if (!c) {
      c = new EgressCache(form, this.slab.ring);
      this.caches.set(form.id, c);
    }
    return c;
  }

  /** Ends this view: subscribers told once, ports closed. Idempotent. The slab belongs to the directory. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.abandonMedia();
    for (const s of [...this.subscribers]) {
      s.events.onStreamEnd(reason);
      s.close();
    }
    this.subscribers.clear();
    this.caches.clear();
    this.setRemote(null);
    for (const p of this.outPorts.keys()) p.close();
    this.outPorts.clear();
  }
}

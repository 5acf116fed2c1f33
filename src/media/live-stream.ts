/**
 * A live stream: its ring (in a pooled SharedArrayBuffer slab), sticky
 * tags for new players, ingest timestamp policy, and local subscribers.
 * Ingest writes each audio/video body once, straight into the ring; the
 * subscribers are pumped once per event-loop turn, not per tag.
 */
import { TagFlag, TagRing } from '../core/tag-ring.js';
import type { SlabPool } from '../core/slab-pool.js';
import { SluiceError } from '../core/errors.js';
import { TagType, type AudioCodec, type VideoCodec } from '../protocol/types.js';
import { inspectVideo } from '../protocol/video-tag.js';
import { inspectAudio } from '../protocol/audio-tag.js';
import { EgressCache } from './egress-cache.js';
import { Subscriber } from './subscriber.js';
import { TimestampPolicy, Track } from './timestamp.js';
import type { EgressForm, MediaCounters, PlayerPolicy, PlayerTransport, StickyTags, StreamView, SubscriberEvents } from './types.js';

export interface StreamInfo {
  videoCodec?: VideoCodec;
  audioCodec?: AudioCodec;
  /** onMetaData fields as sent by the encoder (width, height, framerate, ...). */
  metadata?: Record<string, unknown>;
}

export class LiveStream implements StreamView {
  ring: TagRing | null = null;
  private sab: SharedArrayBuffer | null = null;
  readonly sticky: StickyTags = { version: 0 };
  readonly subscribers = new Set<Subscriber>();
  private readonly caches = new Map<string, EgressCache>();
  private readonly timestamps: TimestampPolicy;
  /** Owner id of the current publisher, or undefined while idle. */
  publisher: number | undefined;
  hasVideo = false;
  hasAudio = false;
  readonly info: StreamInfo = {};
  readonly counters: MediaCounters = { tagsIn: 0, bytesIn: 0, tagsDropped: 0, playersEvicted: 0, resyncs: 0 };
  readonly createdAt = Date.now();
  publishedAt = 0;
  /** Destination of the open ring reservation (an in-progress RTMP message). */
  private ringDest: Uint8Array | null = null;
  private flushScheduled = false;
  closed = false;
  /** Timer of the republish grace period or the wait for a first publisher. */
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly app: string,
    readonly name: string,
    private readonly pool: SlabPool,
    maxTimestampJumpMs: number,
  ) {
    this.timestamps = new TimestampPolicy(maxTimestampJumpMs);
  }

  get key(): string {
    return `${this.app}/${this.name}`;
  }

  get live(): boolean {
    return this.publisher !== undefined;
  }

  /** A publisher takes the stream (first publish or a republish within grace). */
  startPublishing(owner: number): void {
    if (this.publisher !== undefined) throw new SluiceError('ERR_STREAM', `${this.key}: already publishing`);
    if (!this.ring) {
      this.sab = this.pool.acquire();
      this.ring = TagRing.create(this.sab);
    }
    this.publisher = owner;
    this.publishedAt = Date.now();
    this.timestamps.newPublisher();
    for (const s of this.subscribers) s.events.onPublish();
  }

  stopPublishing(owner: number): void {
    if (this.publisher !== owner) return;
    this.abandonMedia();
    this.publisher = undefined;
    for (const s of this.subscribers) s.events.onUnpublish();
  }

  // ---- ingest ---------------------------------------------------------------

  /**
   * Where an incoming audio/video body of `length` bytes goes: straight into
   * the ring; or, while another message is still being assembled there
   * (interleaved chunk streams), a staging buffer copied in at commit.
   */
  beginMedia(length: number): Uint8Array {
    const ring = this.ring!;
    if (this.ringDest !== null || length > ring.maxBody) {
      if (length > ring.maxBody) {
        throw new SluiceError('ERR_MESSAGE_TOO_LARGE', `${this.key}: media message ${length} bytes exceeds ring limit ${ring.maxBody}`);
      }
      return Buffer.allocUnsafe(length);
    }
    const at = ring.reserve(length);
    this.ringDest = ring.data.subarray(at, at + length);
    return this.ringDest;
  }

  abandonMedia(dest?: Uint8Array): void {
    if (this.ringDest !== null && (dest === undefined || dest === this.ringDest)) {
      this.ring!.cancel();
      this.ringDest = null;
    }
  }

  /** A whole audio/video message: classify, correct its timestamp, publish it. */
  commitMedia(type: number, timestamp: number, body: Uint8Array): void {
    const ring = this.ring!;
    let flags = 0;
    let track: number = Track.Data;
    if (body.length > 0 && type === TagType.Video) {
      track = Track.Video;
      const v = inspectVideo(body);
      this.hasVideo = true;
      this.info.videoCodec = v.codec;
      if (v.key) flags |= TagFlag.Key;
      if (v.sequenceEnd) flags |= TagFlag.SequenceEnd;
      if (v.sequenceHeader) flags |= TagFlag.SequenceHeader;
    } else if (body.length > 0 && type === TagType.Audio) {
      track = Track.Audio;
      const a = inspectAudio(body);
      this.hasAudio = true;
      this.info.audioCodec = a.codec;
      if (a.sequenceHeader) flags |= TagFlag.SequenceHeader;
    }
    const ts = this.timestamps.correct(track, timestamp);
    if (flags & TagFlag.SequenceHeader) {
      const copy = { timestamp: ts, body: Buffer.from(body) };
      if (type === TagType.Video) this.sticky.videoHeader = copy;
      else this.sticky.audioHeader = copy;
      this.sticky.version++;
    }
    if (body === this.ringDest) {
      this.ringDest = null;
      ring.commit(type, ts, flags);
    } else {
      ring.append(type, ts, flags, body);
    }
    this.counters.tagsIn++;
    this.counters.bytesIn += body.length;
    this.scheduleFlush();
  }

  /** onMetaData (already unwrapped from @setDataFrame): sticky and in-band. */
  commitMetadata(timestamp: number, body: Buffer, fields: Record<string, unknown>): void {
    const ts = this.timestamps.correct(Track.Data, timestamp);
    this.sticky.metadata = { timestamp: ts, body };
    this.sticky.version++;
    this.info.metadata = fields;
    // Players joining before the first video tag must still wait for a keyframe.
    if (fields.videocodecid !== undefined || fields.width !== undefined) this.hasVideo = true;
    this.ring!.append(TagType.Script, ts, TagFlag.Metadata, body);
    this.scheduleFlush();
  }

  /** Other data messages (onCuePoint, onTextData...) pass through in-band. */
  commitData(timestamp: number, body: Uint8Array): void {
    const ts = this.timestamps.correct(Track.Data, timestamp);
    this.ring!.append(TagType.Script, ts, 0, body);
    this.scheduleFlush();
  }

  latestTimestamp(): number {
    return this.timestamps.latest();
  }

  // ---- fan-out --------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    for (const s of this.subscribers) s.pump();
  };

  addSubscriber(form: EgressForm, transport: PlayerTransport, events: SubscriberEvents, policy: PlayerPolicy): Subscriber {
    if (this.closed) throw new SluiceError('ERR_STREAM', `${this.key}: stream closed`);
    const sub = new Subscriber(this, form, transport, events, policy);
    this.subscribers.add(sub);
    if (this.ring) this.scheduleFlush();
    return sub;
  }

  removeSubscriber(sub: unknown): void {
    this.subscribers.delete(sub as Subscriber);
  }

  /** The shared egress cache of a form (there is a ring once a publisher came). */
  cacheFor(form: EgressForm): EgressCache {
    let c = this.caches.get(form.id);
    if (!c) {
      c = new EgressCache(form, this.ring!);
      this.caches.set(form.id, c);
    }
    return c;
  }

  /** Ends the stream: subscribers told once, the slab back to the pool. Idempotent. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.abandonMedia();
    for (const s of [...this.subscribers]) {
      s.events.onStreamEnd(reason);
      s.close();
    }
    this.subscribers.clear();
    this.caches.clear();
    if (this.ring) this.ring.close();
    if (this.sab) this.pool.release(this.sab);
    this.ring = null;
    this.sab = null;
  }
}

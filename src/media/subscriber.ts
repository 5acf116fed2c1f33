/**
 * One player's position in a live stream. It holds no queue of its own:
 * the ring is the queue, and the player is a cursor into it. Each pump
 * hands the transport one batch (one writev) of shared egress bytes,
 * never past the write high-water mark, so a stalled reader costs a cursor
 * and at most high-water bytes of socket buffer.
 *
 * Slow-player policy (after SRS's GOP-aware shrink): when the cursor lags
 * the live edge by more than queueMaxBytes or queueMaxMs, it jumps to the
 * latest keyframe. Sticky tags (metadata, sequence headers) go out at the
 * start and after a jump that skipped a change of them, stamped no earlier
 * than the tag they precede so timestamps never go back; changes while the
 * player keeps up arrive in-band through the ring. A socket that accepts
 * nothing for stallTimeoutMs is evicted.
 */
import { arrivalAge, newRecordView, seqBefore, seqDistance, TagFlag, type RecordView } from '../core/tag-ring.js';
import { TagType } from '../protocol/types.js';
import { tsDiff, tsLater } from './timestamp.js';
import { stickyKindOf, stickyPlan, type StickyCopy, type StickyPlan } from './sticky-plan.js';
import type { EgressForm, EgressSource, LatencyRecorder, PlayerPolicy, PlayerTransport, SharedBatch, StreamView, SubscriberEvents } from './types.js';

/** joinedBeforeLive of a player that came before the stream had a ring. */
const BEFORE_FIRST_TAG = Symbol('before first tag');
/** stickyStamp values that are not timestamps: the tags' own, or 0 (a new player's opening tags). */
const OWN = -1;
const OPENING = -2;

let nextId = 1;

export class Subscriber {
  readonly id = nextId++;
  cursor = 0;
  private started = false;
  /** No video keyframe sent yet: skip media until one (a decoder cannot start elsewhere). */
  private waitKey = true;
  /** Video was switched back on (receiveVideo): resume it at a keyframe. */
  private videoNeedsKey = false;
  /** Per sticky kind (metadata, video header, audio header): the ring seq of the one the player holds. */
  private readonly held: (number | undefined)[] = [undefined, undefined, undefined];
  /** Sticky copies to send before the next media (sticky-plan.ts). */
  private copies: StickyCopy[] = [];
  /** Sticky tags to send before the next media; stamp = timestamp to give them, -1 = their own, OPENING = 0. */
  private stickyStamp: number | undefined;
  private rewind = false;
  closed = false;
  paused = false;
  receiveAudio = true;
  private video = true;
  tagsSent = 0;
  bytesSent = 0;
  tagsDropped = 0;
  /** When the first tag was handed to the transport (time to first frame). */
  firstTagAt = 0;
  private lastProgress = Date.now();
  private readonly rec: RecordView = newRecordView();
  private readonly batch: Buffer[] = [];
  private cache: EgressSource | null = null;

  constructor(
    readonly stream: StreamView,
    readonly form: EgressForm,
    readonly transport: PlayerTransport,
    readonly events: SubscriberEvents,
    private readonly policy: PlayerPolicy,
    private readonly latency?: LatencyRecorder,
    readonly createdAt = Date.now(),
  ) {
    // Ring head when the player came to a stream not (yet) live: where its wait began.
    // An awaited name has no ring yet: the wait began before its first tag.
    this.joinedBeforeLive = stream.live ? undefined : (stream.ring?.head() ?? BEFORE_FIRST_TAG);
  }

  private readonly joinedBeforeLive: number | typeof BEFORE_FIRST_TAG | undefined;

  get receiveVideo(): boolean {
    return this.video;
  }

  set receiveVideo(on: boolean) {
    if (on && !this.video) this.videoNeedsKey = true;
    this.video = on;
  }

  /** Sends whatever is due. Called once per event-loop turn by the stream, and on drain. */
  pump(): void {
    if (this.closed || this.paused) return;
    const stream = this.stream;
    const ring = stream.ring;
    if (!ring || (!stream.live && !this.started)) return;
    const t = this.transport;
    const hw = this.policy.writeHighWaterBytes;
    const now = Date.now();
    const queued = t.writableLength;
    if (queued >= hw) {
      if (now - this.lastProgress > this.policy.stallTimeoutMs) {
        this.events.onEvict('ERR_SLOW_CONSUMER', `socket accepted nothing for ${now - this.lastProgress} ms`);
      }
      return;
    }
    this.lastProgress = now;
    const cache = (this.cache ??= stream.cacheFor(this.form));
    if (!this.started) this.start();
    if (this.rewind) this.rewindIfBehind();
    const head = ring.head();
    if (this.policy.sharedBatch !== false && this.plain && this.cursor !== head && this.sendShared(cache.batch(this.cursor, head, hw), queued, hw, now)) return;
    if (seqBefore(this.cursor, ring.tail())) this.resync();
    this.shrinkIfLagging(head);
    const batch = this.batch;
    let bytes = t.writableLength;
    if (this.stickyStamp !== undefined) bytes += this.queueSticky(batch);
    const rec = this.rec;
    while (seqBefore(this.cursor, head) && bytes < hw) {
      if (!ring.read(this.cursor, rec)) {
        this.resync();
        if (this.stickyStamp !== undefined) bytes += this.queueSticky(batch);
        continue;
      }
      this.cursor = (this.cursor + 1) | 0;
      if (this.skip(rec)) continue;
      const buf = cache.get(rec);
      if (!buf) {
        this.resync();
        continue;
      }
      const kind = stickyKindOf(rec.type, rec.flags);
      if (kind >= 0) this.held[kind] = rec.seq;
      batch.push(buf);
      bytes += buf.length;
      this.latency?.ingestToEgress(arrivalAge(rec.arrival, now));
      this.tagsSent++;
      this.bytesSent += buf.length;
    }
    if (batch.length > 0) {
      if (this.firstTagAt === 0) {
        this.firstTagAt = now;
        this.latency?.firstFrame(now - this.createdAt);
      }
      t.write(batch);
      batch.length = 0;
    }
    // Stopped at the high-water mark but the transport took it all: no drain
    // event will come, so finish the backlog on the next turn ourselves.
    if (seqBefore(this.cursor, head) && t.writableLength < hw && !this.again) {
      this.again = true;
      setImmediate(this.pumpAgain);
    }
  }

  /**
   * Nothing about this player changes what it is sent: under way, past its
   * first keyframe, both tracks on, no sticky copies due. Such players take
   * every tag, so players of a form at the same cursor get the same batch.
   */
  private get plain(): boolean {
    return this.firstTagAt !== 0 && !this.waitKey && !this.videoNeedsKey && this.video && this.receiveAudio && this.stickyStamp === undefined;
  }

  /**
   * The shared batch of this turn (turn-batch.ts), when it starts at this
   * player's cursor, fits under the high-water mark as the one-by-one path
   * would fill it, and the player is not lagging; false: take that path.
   */
  private sendShared(b: SharedBatch, queued: number, hw: number, now: number): boolean {
    if (!b.ok || b.from !== this.cursor || queued + b.bytes - b.lastBytes >= hw) return false;
    const ring = this.stream.ring!;
    // Made earlier this turn: if the writer has since retired its first record, the one-by-one path resyncs.
    if (seqBefore(b.from, ring.tail()) || this.lagging(b.startCum, b.startTs)) return false;
    this.cursor = b.to;
    if (b.stickyMask !== 0) {
      for (let k = 0; k < 3; k++) if (b.stickyMask & (1 << k)) this.held[k] = b.sticky[k];
    }
    const latency = this.latency;
    if (latency) for (const a of b.arrivals) latency.ingestToEgress(arrivalAge(a, now));
    this.tagsSent += b.bufs.length;
    this.bytesSent += b.bytes;
    this.transport.write(b.bufs);
    return true;
  }

  private again = false;
  private readonly pumpAgain = (): void => {
    this.again = false;
    this.pump();
  };

  /**
   * A new player: sticky tags, then the GOP cache from its latest keyframe.
   * A player that joined before the stream went live starts at the first
   * keyframe published since it joined instead: it has been waiting for it.
   */
  /** Nothing delivered yet, or still waiting for the first video keyframe (a paused player or one without video waits for nothing). */
  get awaitingFirstFrame(): boolean {
    return !this.paused && (!this.started || (this.waitKey && this.video));
  }

  private start(): void {
    const ring = this.stream.ring!;
    const joined = this.joinedBeforeLive === BEFORE_FIRST_TAG ? ring.tail() : this.joinedBeforeLive;
    const key = joined !== undefined ? this.firstKeySince(joined) : (this.form.startAt?.(ring) ?? ring.keySeq());
    this.started = true;
    if (key === undefined && joined !== undefined) {
      // Waited from before the first keyframe: everything since the join point
      // (metadata, sequence headers) comes in-band, so no sticky copies;
      // unless the ring lapped the join point: then copies of what fell off.
      const lapped = seqBefore(joined, ring.tail());
      if (!lapped) {
        this.cursor = joined;
        this.waitKey = this.stream.hasVideo;
        return;
      }
      this.follow(stickyPlan(this.stream, ring.tail(), false, this.held));
    } else {
      this.follow(stickyPlan(this.stream, key ?? ring.head(), key !== undefined, this.held));
    }
    this.stickyStamp = this.openingStamp();
  }

  /** Puts the cursor where `plan` says, with its sticky copies due before the next media. */
  private follow(plan: StickyPlan): void {
    this.cursor = plan.seq;
    // Audio-only streams have no keyframes to wait for.
    this.waitKey = !plan.isKey && this.stream.hasVideo;
    this.copies = plan.copies;
  }

  /** The opening sticky tags: at 0 where the form wants it (EgressForm.opensAtZero), else at the tag they precede. */
  private openingStamp(): number {
    return this.form.opensAtZero ? OPENING : this.stream.ring!.read(this.cursor, this.rec) ? this.rec.timestamp : OWN;
  }

  private firstKeySince(from: number): number | undefined {
    const ring = this.stream.ring!;
    const head = ring.head();
    let seq = seqBefore(from, ring.tail()) ? ring.tail() : from;
    for (; seqBefore(seq, head); seq = (seq + 1) | 0) {
      if (ring.read(seq, this.rec) && this.rec.type === TagType.Video && this.rec.flags & TagFlag.Key && !(this.rec.flags & TagFlag.SequenceHeader)) return seq;
    }
    return undefined;
  }

  private skip(rec: RecordView): boolean {
    const f = rec.flags;
    if (rec.type === TagType.Video) {
      if (!this.video) return true;
      if (this.waitKey || this.videoNeedsKey) {
        if (f & TagFlag.SequenceHeader) return false;
        if (!(f & TagFlag.Key)) return true;
        this.waitKey = false;
        this.videoNeedsKey = false;
      }
      return false;
    }
    if (rec.type === TagType.Audio) {
      // Audio before the first video key would start ahead of the picture.
      if (this.waitKey && !(f & TagFlag.SequenceHeader)) return true;
      return !this.receiveAudio;
    }
    return false;
  }

  /** Moves the cursor forward to `target` (a keyframe unless `isKey` is false, or where stickyPlan moves it), counting what was skipped. */
  private jumpTo(target: number, isKey: boolean): void {
    const plan = stickyPlan(this.stream, target, isKey, this.held);
    const skipped = Math.max(0, seqDistance(this.cursor, plan.seq));
    this.tagsDropped += skipped;
    this.stream.counters.tagsDropped += skipped;
    this.follow(plan);
    if (plan.copies.length > 0) {
      // Stamp the re-sent sticky tags at the target so timestamps stay monotonic.
      this.stickyStamp = this.stream.ring!.read(plan.seq, this.rec) ? this.rec.timestamp : this.stream.latestTimestamp();
    }
  }

  /** GOP-aware drop: jump to the latest keyframe when too far behind. */
  private shrinkIfLagging(head: number): void {
    const ring = this.stream.ring!;
    if (!seqBefore(this.cursor, head) || !ring.read(this.cursor, this.rec)) return;
    if (!this.lagging(this.rec.cumBytes - this.rec.length, this.rec.timestamp)) return;
    const key = ring.keySeq();
    if (key !== undefined && seqBefore(this.cursor, key)) this.jumpTo(key, true);
  }

  /** Past queueMaxBytes or queueMaxMs behind the live edge, for a cursor at a record with `cumBefore` bytes before it and `timestamp`. */
  private lagging(cumBefore: number, timestamp: number): boolean {
    const lagBytes = (this.stream.ring!.cumBytes() - cumBefore) >>> 0;
    return lagBytes > this.policy.queueMaxBytes || tsDiff(this.stream.latestTimestamp(), timestamp) > this.policy.queueMaxMs;
  }

  /** The cursor fell off the ring's tail: restart at the latest keyframe (or the live edge). */
  private resync(): void {
    const ring = this.stream.ring!;
    const key = ring.keySeq();
    this.stream.counters.resyncs++;
    this.jumpTo(key ?? ring.head(), key !== undefined);
  }

  private rewindIfBehind(): void {
    this.rewind = false;
    const key = this.stream.ring!.keySeq();
    if (key !== undefined && seqBefore(this.cursor, key)) this.jumpTo(key, true);
  }

  /** Metadata and sequence headers the player lacks, before media. */
  private queueSticky(batch: Buffer[]): number {
    const stamp = this.stickyStamp!;
    this.stickyStamp = undefined;
    let n = 0;
    // Copies go out in one order (metadata, video, audio): each no earlier than the one before.
    let floor: number | undefined;
    for (const c of this.copies) {
      // One read in-band meanwhile (the cursor had not passed it) is held already.
      if (this.held[c.kind] !== undefined && !seqBefore(this.held[c.kind]!, c.seq)) continue;
      let ts = stamp === OPENING ? 0 : stamp === OWN ? c.timestamp : tsLater(stamp, c.timestamp);
      if (floor !== undefined) ts = tsLater(floor, ts);
      floor = ts;
      const b = this.form.buildSticky(c.type, ts, c.body);
      batch.push(b);
      n += b.length;
      this.held[c.kind] = c.seq;
    }
    this.copies = [];
    return n;
  }

  /** After unpause or a seek on live: continue at the latest keyframe if it is ahead. */
  rewindToLive(): void {
    this.rewind = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.removeSubscriber(this);
  }
}

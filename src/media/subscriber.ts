/**
 * One player's position in a live stream. It holds no queue of its own:
 * the ring is the queue, and the player is a cursor into it. Each pump
 * hands the transport one batch (one writev) of shared egress bytes,
 * never past the write high-water mark, so a stalled reader costs a cursor
 * and at most high-water bytes of socket buffer.
 *
 * Slow-player policy (after SRS's GOP-aware shrink): when the cursor lags
 * the live edge by more than queueMaxBytes or queueMaxMs, it jumps to the
 * latest keyframe; sticky tags (metadata, sequence headers) are re-sent if
 * they changed in what was skipped. A socket that accepts nothing for
 * stallTimeoutMs is evicted.
 */
import { newRecordView, seqBefore, seqDistance, TagFlag, type RecordView } from '../core/tag-ring.js';
import { TagType } from '../protocol/types.js';
import type { EgressCache } from './egress-cache.js';
import type { LiveStream } from './live-stream.js';
import type { EgressForm, PlayerPolicy, PlayerTransport, SubscriberEvents } from './types.js';

let nextId = 1;

export class Subscriber {
  readonly id = nextId++;
  cursor = 0;
  /** No video key seen yet: skip until one (a decoder cannot start elsewhere). */
  private waitKey = true;
  private stickyVersion = -1;
  private started = false;
  closed = false;
  paused = false;
  receiveAudio = true;
  receiveVideo = true;
  tagsSent = 0;
  bytesSent = 0;
  tagsDropped = 0;
  /** First media tag handed to the transport (time to first frame). */
  firstTagAt = 0;
  private lastProgress = Date.now();
  private readonly rec: RecordView = newRecordView();
  private readonly batch: Buffer[] = [];
  private cache: EgressCache | null = null;

  constructor(
    readonly stream: LiveStream,
    readonly form: EgressForm,
    readonly transport: PlayerTransport,
    readonly events: SubscriberEvents,
    private readonly policy: PlayerPolicy,
    readonly createdAt = Date.now(),
  ) {}

  /** Positions the cursor for a new player: the GOP cache from its keyframe. */
  private startAt(): void {
    const ring = this.stream.ring!;
    const key = ring.keySeq();
    if (key !== undefined) {
      this.cursor = key;
      this.waitKey = false;
    } else {
      this.cursor = ring.head();
      // Audio-only streams have no keyframes to wait for.
      this.waitKey = this.stream.hasVideo;
    }
    this.started = true;
  }

  /** Sends whatever is due. Called once per event-loop turn by the stream, and on drain. */
  pump(): void {
    if (this.closed || this.paused) return;
    const stream = this.stream;
    const ring = stream.ring;
    if (!ring || !stream.live && !this.started) return;
    const t = this.transport;
    const hw = this.policy.writeHighWaterBytes;
    const now = Date.now();
    if (t.writableLength >= hw) {
      if (now - this.lastProgress > this.policy.stallTimeoutMs) {
        this.events.onEvict('ERR_SLOW_CONSUMER', `socket accepted nothing for ${now - this.lastProgress} ms`);
      }
      return;
    }
    this.lastProgress = now;
    if (!this.started) this.startAt();
    const cache = (this.cache ??= stream.cacheFor(this.form));
    if (seqBefore(this.cursor, ring.tail())) this.resync('lapped by the ring');
    const head = ring.head();
    const batch = this.batch;
    let bytes = t.writableLength;
    if (this.stickyVersion !== stream.sticky.version) bytes += this.queueSticky(batch);
    this.shrinkIfLagging(head);
    const rec = this.rec;
    while (seqBefore(this.cursor, head) && bytes < hw) {
      if (!ring.read(this.cursor, rec)) {
        this.resync('lapped by the ring');
        if (!seqBefore(this.cursor, head)) break;
        continue;
      }
      this.cursor = (this.cursor + 1) | 0;
      if (this.skip(rec)) continue;
      const buf = cache.get(rec);
      if (!buf) {
        this.resync('lapped during copy');
        continue;
      }
      if (rec.flags & (TagFlag.SequenceHeader | TagFlag.Metadata)) this.stickyVersion = stream.sticky.version;
      batch.push(buf);
      bytes += buf.length;
      this.tagsSent++;
      this.bytesSent += buf.length;
    }
    if (batch.length > 0) {
      if (this.firstTagAt === 0) this.firstTagAt = now;
      t.write(batch);
      batch.length = 0;
    }
  }

  private skip(rec: RecordView): boolean {
    if (rec.type === TagType.Video) {
      if (this.waitKey) {
        if (!(rec.flags & TagFlag.Key) || rec.flags & TagFlag.SequenceHeader) return !(rec.flags & TagFlag.SequenceHeader);
        this.waitKey = false;
      }
      return !this.receiveVideo;
    }
    if (rec.type === TagType.Audio) {
      // Audio before the first video key would start ahead of the picture.
      if (this.waitKey && !(rec.flags & TagFlag.SequenceHeader)) return true;
      return !this.receiveAudio;
    }
    return false;
  }

  /** GOP-aware drop: jump to the latest keyframe when too far behind. */
  private shrinkIfLagging(head: number): void {
    const ring = this.stream.ring!;
    if (!seqBefore(this.cursor, head) || !ring.read(this.cursor, this.rec)) return;
    const lagBytes = (ring.cumBytes() - (this.rec.cumBytes - this.rec.length)) >>> 0;
    const lagMs = this.stream.latestTimestamp() - this.rec.timestamp;
    if (lagBytes <= this.policy.queueMaxBytes && lagMs <= this.policy.queueMaxMs) return;
    const key = ring.keySeq();
    if (key === undefined || !seqBefore(this.cursor, key)) return;
    const skipped = seqDistance(this.cursor, key);
    this.tagsDropped += skipped;
    this.stream.counters.tagsDropped += skipped;
    this.cursor = key;
    this.waitKey = false;
    if (this.stickyVersion !== this.stream.sticky.version) this.stickyVersion = -1;
  }

  /** The cursor fell off the ring's tail: restart at the latest keyframe. */
  private resync(_why: string): void {
    const ring = this.stream.ring!;
    const key = ring.keySeq();
    const to = key ?? ring.head();
    const skipped = Math.max(0, seqDistance(this.cursor, to));
    this.tagsDropped += skipped;
    this.stream.counters.tagsDropped += skipped;
    this.stream.counters.resyncs++;
    this.cursor = to;
    this.waitKey = key === undefined && this.stream.hasVideo;
    this.stickyVersion = -1;
  }

  /** Metadata and sequence headers the player has not got, first. */
  private queueSticky(batch: Buffer[]): number {
    const s = this.stream.sticky;
    let n = 0;
    for (const [type, tag] of [
      [TagType.Script, s.metadata],
      [TagType.Video, s.videoHeader],
      [TagType.Audio, s.audioHeader],
    ] as const) {
      if (!tag) continue;
      const b = this.form.buildSticky(type, tag.timestamp, tag.body);
      batch.push(b);
      n += b.length;
    }
    this.stickyVersion = s.version;
    return n;
  }

  /** After pause/unpause or a seek on live: continue from the latest keyframe. */
  rewindToLive(): void {
    this.started = false;
    this.stickyVersion = -1;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.removeSubscriber(this);
  }
}

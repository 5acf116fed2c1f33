/**
 * The streams of this process by app/name, and the rules users rely on:
 * a live name refuses a second publisher (NetStream.Publish.BadName); a
 * publisher that leaves keeps its players for a grace period, and a
 * republish resumes them; a player may wait a while for a publisher.
 */
import type { SlabPool } from '../core/slab-pool.js';
import { SluiceError } from '../core/errors.js';
import { LiveStream } from './live-stream.js';

export interface RegistryOptions {
  maxStreams: number;
  republishGraceMs: number;
  playWaitMs: number;
  maxTimestampJumpMs: number;
}

export class StreamRegistry {
  readonly streams = new Map<string, LiveStream>();

  constructor(
    readonly pool: SlabPool,
    private readonly opts: RegistryOptions,
  ) {}

  get(app: string, name: string): LiveStream | undefined {
    return this.streams.get(`${app}/${name}`);
  }

  private create(app: string, name: string): LiveStream {
    if (this.streams.size >= this.opts.maxStreams) {
      throw new SluiceError('ERR_LIMIT', `too many streams (media.maxStreams = ${this.opts.maxStreams})`);
    }
    const s = new LiveStream(app, name, this.pool, this.opts.maxTimestampJumpMs);
    this.streams.set(s.key, s);
    return s;
  }

  /** Starts publishing; throws ERR_STREAM (BadName) when the name is live. */
  publish(app: string, name: string, owner: number): LiveStream {
    const s = this.get(app, name) ?? this.create(app, name);
    if (s.live) throw new SluiceError('ERR_STREAM', `${s.key}: already being published`);
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    s.startPublishing(owner);
    return s;
  }

  /** The publisher left: keep players for the grace period, or end the stream. */
  unpublish(s: LiveStream, owner: number): void {
    if (s.publisher !== owner) return;
    s.stopPublishing(owner);
    if (s.subscribers.size === 0 || this.opts.republishGraceMs === 0) {
      this.end(s, 'publisher left');
      return;
    }
    s.timer = setTimeout(() => {
      if (!s.live) this.end(s, 'publisher did not return');
    }, this.opts.republishGraceMs);
  }

  /** The stream a player attaches to: live, in grace, or awaited; undefined = not found. */
  play(app: string, name: string): LiveStream | undefined {
    const s = this.get(app, name);
    if (s) return s;
    if (this.opts.playWaitMs === 0) return undefined;
    const waiting = this.create(app, name);
    waiting.timer = setTimeout(() => {
      if (!waiting.live) this.end(waiting, 'stream not found');
    }, this.opts.playWaitMs);
    return waiting;
  }

  /** A player left: an idle stream with nobody left goes away. */
  subscriberLeft(s: LiveStream): void {
    if (!s.live && s.subscribers.size === 0) this.end(s, 'no players left');
  }

  end(s: LiveStream, reason: string): void {
    if (this.streams.get(s.key) === s) this.streams.delete(s.key);
    s.close(reason);
  }

  closeAll(reason: string): void {
    for (const s of [...this.streams.values()]) this.end(s, reason);
  }
}

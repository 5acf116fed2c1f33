/**
 * A worker's side of the stream directory: its local views of streams
 * (one LiveStream per key with local publishers or players), kept in step
 * with the directory's decisions and events. Sessions talk only to this.
 */
import { SluiceError } from '../core/errors.js';
import { LiveStream } from '../media/live-stream.js';
import type { StreamOptions } from '../media/types.js';
import type { DirectoryEvent, PublishGrant, SubscribeGrant } from './messages.js';

/** How a worker reaches the directory (in-process, or over the primary's port). */
export interface DirectoryLink {
  publish(key: string): Promise<PublishGrant>;
  subscribe(key: string): Promise<SubscribeGrant | undefined>;
  unpublish(id: number, key: string): void;
  release(id: number, key: string): void;
}

export class WorkerHub {
  private readonly streams = new Map<string, LiveStream>();

  constructor(
    readonly workerId: number,
    private readonly link: DirectoryLink,
    private readonly streamOptions: StreamOptions,
  ) {}

  /** Starts publishing; throws ERR_STREAM when the name is live anywhere. */
  async publish(app: string, name: string, owner: number): Promise<LiveStream> {
    const key = `${app}/${name}`;
    if (this.streams.get(key)?.publisher !== undefined) throw new SluiceError('ERR_STREAM', `${key} is already being published`);
    const g = await this.link.publish(key);
    if (!g.ok) throw new SluiceError(g.code, g.reason);
    const s = this.view(app, name, g.id, g.sab);
    s.startPublishing(owner);
    return s;
  }

  unpublish(s: LiveStream, owner: number): void {
    if (s.publisher !== owner) return;
    s.stopPublishing(owner);
    this.link.unpublish(s.entryId, s.key);
    this.releaseIfUnused(s);
  }

  /** The stream a player attaches to (live, in grace, or awaited); undefined = not found; throws a coded refusal (ERR_LIMIT...). */
  async play(app: string, name: string): Promise<LiveStream | undefined> {
    const key = `${app}/${name}`;
    const have = this.streams.get(key);
    if (have) return have;
    const g = await this.link.subscribe(key);
    if (!g) return undefined;
    if (!g.ok) throw new SluiceError(g.code, g.reason);
    const raced = this.streams.get(key);
    if (raced?.entryId === g.id) {
      // Another local player subscribed meanwhile: one view (and one port) per worker.
      g.port?.close();
      return raced;
    }
    const s = this.view(app, name, g.id, g.sab);
    s.live = g.live;
    if (g.port) s.setRemote(g.port);
    return s;
  }

  /** A local player left: a view nobody here uses is let go. */
  subscriberLeft(s: LiveStream): void {
    this.releaseIfUnused(s);
  }

  private view(app: string, name: string, id: number, sab: SharedArrayBuffer | undefined): LiveStream {
    const key = `${app}/${name}`;
    let s = this.streams.get(key);
    if (s && s.entryId !== id) {
      // A view of an ended stream whose end notice is still on its way.
      this.drop(s, 'stream replaced');
      s = undefined;
    }
    if (!s) {
      s = new LiveStream(app, name, id, sab, this.streamOptions);
      this.streams.set(key, s);
    }
    // A view made while the name was only awaited gets its slab with the publisher.
    if (sab) s.attachSlab(sab);
    return s;
  }

  private releaseIfUnused(s: LiveStream): void {
    if (s.subscribers.size === 0 && s.publisher === undefined) this.drop(s, 'unused');
  }

  private drop(s: LiveStream, reason: string): void {
    if (this.streams.get(s.key) === s) this.streams.delete(s.key);
    s.close(reason);
    this.link.release(s.entryId, s.key);
  }

  /** Applies a directory decision to the local view. */
  onEvent(e: DirectoryEvent): void {
    const s = this.streams.get(e.key);
    if (!s || s.entryId !== e.id) {
      if ('port' in e && e.port) e.port.close();
      if (e.t === 'streamEnd') this.link.release(e.id, e.key);
      return;
    }
    switch (e.t) {
      case 'streamUp':
        s.attachSlab(e.sab);
        s.setRemote(e.port ?? null);
        s.markLive(true);
        return;
      case 'streamDown':
        s.setRemote(null);
        s.markLive(false);
        return;
      case 'streamEnd':
        this.drop(s, e.reason);
        return;
      case 'attachReader':
        s.addReader(e.port);
        return;
    }
  }

  /** This worker's view of app/name, if it has one. */
  get(app: string, name: string): LiveStream | undefined {
    return this.streams.get(`${app}/${name}`);
  }

  list(): LiveStream[] {
    return [...this.streams.values()];
  }

  /** Shutdown: every local view ends (players get Play.Stop), publishers first leave. */
  closeAll(reason: string): void {
    for (const s of [...this.streams.values()]) {
      if (s.publisher !== undefined) this.unpublish(s, s.publisher);
      if (this.streams.get(s.key) === s) this.drop(s, reason);
    }
  }
}

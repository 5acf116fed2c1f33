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
  /** `ip`: a client publisher's address (access.maxPublishesPerIp); `claim`: a client's publish claims the name across nodes. */
  publish(key: string, ip: string | undefined, claim: boolean): Promise<PublishGrant>;
  /** (cluster.redis) The RTMP address of another node that publishes `key`. */
  locate(key: string): Promise<string | undefined>;
  /** `query`: the player's query string (an edge passes the first one to its origin). */
  subscribe(key: string, query?: string): Promise<SubscribeGrant | undefined>;
  unpublish(id: number, key: string): void;
  release(id: number, key: string): void;
  /** (edge) The home of a pulled stream has local players / none any more. */
  watched(id: number, key: string, yes: boolean): void;
  /** (edge) A pull the directory asked for ended before it published. */
  pullEnded(id: number, key: string, reason: string): void;
}

/** Who opens and closes an edge's upstreams on this worker (edge/). */
export interface PullHandler {
  start(req: { id: number; key: string; query: string }): void;
  stop(req: { id: number; key: string; reason: string }): void;
  /** The stream went live somewhere (Redis pub/sub): a waiting pull looks again now. */
  wake(req: { id: number; key: string }): void;
}

export class WorkerHub {
  private readonly streams = new Map<string, LiveStream>();
  /** Set on an edge: the directory's pull requests go there. */
  pulls: PullHandler | undefined;
  /** Told of every publisher timestamp discontinuity on this thread (context.ts counts and logs them). */
  timestampJump: ((key: string, stepMs: number) => void) | undefined;

  constructor(
    readonly workerId: number,
    private readonly link: DirectoryLink,
    private readonly streamOptions: StreamOptions,
  ) {}

  /** Starts publishing; throws ERR_STREAM when the name is live anywhere. */
  async publish(app: string, name: string, owner: number, source: LiveStream['source'] = 'publisher', ip?: string): Promise<LiveStream> {
    const key = `${app}/${name}`;
    const here = this.streams.get(key);
    // A pulled copy may give way to a client's publish (the directory decides: StreamDirectory.yieldPull).
    if (here?.publisher !== undefined && (here.source !== 'pull' || source === 'pull')) throw new SluiceError('ERR_STREAM', `${key} is already being published`);
    const g = await this.link.publish(key, ip, source === 'publisher');
    if (!g.ok) throw new SluiceError(g.code, g.reason);
    const s = this.view(app, name, g.id, g.sab);
    s.startPublishing(owner);
    s.source = source;
    s.watchedNoted = false;
    this.noteWatched(s);
    return s;
  }

  /** (cluster.redis) Where else `app/name` is published: the node an upstream pulls it from first. */
  locate(key: string): Promise<string | undefined> {
    return this.link.locate(key);
  }

  unpublish(s: LiveStream, owner: number): void {
    if (s.publisher !== owner) return;
    s.stopPublishing(owner);
    this.link.unpublish(s.entryId, s.key);
    this.releaseIfUnused(s);
  }

  /** The stream a player attaches to (live, in grace, or awaited); undefined = not found; throws a coded refusal (ERR_LIMIT...). */
  async play(app: string, name: string, query = ''): Promise<LiveStream | undefined> {
    const key = `${app}/${name}`;
    const have = this.streams.get(key);
    if (have) return have;
    const g = await this.link.subscribe(key, query);
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

  /** (edge) A pull asked for ended without publishing: the directory's waiting players need not wait. */
  pullEnded(id: number, key: string, reason: string): void {
    this.link.pullEnded(id, key, reason);
  }

  /** A local player attached. */
  subscriberJoined(s: LiveStream): void {
    this.noteWatched(s);
  }

  /** A local player left: a view nobody here uses is let go. */
  subscriberLeft(s: LiveStream): void {
    this.noteWatched(s);
    this.releaseIfUnused(s);
  }

  /** (edge) The directory stops an upstream nobody watches: it hears when the home's players come and go. */
  private noteWatched(s: LiveStream): void {
    if (s.source !== 'pull' || !s.isHome) return;
    const yes = s.subscribers.size > 0;
    if (yes === s.watchedNoted) return;
    s.watchedNoted = yes;
    this.link.watched(s.entryId, s.key, yes);
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
      s = new LiveStream(app, name, id, sab, { ...this.streamOptions, onTimestampJump: (k, step) => this.timestampJump?.(k, step) });
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
    if (e.t === 'pull' || e.t === 'pullStop') return this.onPullEvent(e);
    if (e.t === 'pullWake') return this.pulls?.wake(e);
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

  private onPullEvent(e: Extract<DirectoryEvent, { t: 'pull' | 'pullStop' }>): void {
    if (e.t === 'pull') {
      if (this.pulls) this.pulls.start(e);
      else this.link.pullEnded(e.id, e.key, 'this worker does not pull');
      return;
    }
    const s = this.streams.get(e.key);
    // A player came here as the stop was decided: its `watched` is on the way and keeps the upstream.
    if (!e.yield && s?.entryId === e.id && s.source === 'pull' && s.isHome && s.subscribers.size > 0) return;
    this.pulls?.stop(e);
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

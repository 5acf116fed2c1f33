/**
 * The stream directory: the single authority on which worker is home to
 * which stream. It runs in the primary (or in-process with one worker) and
 * owns the stream slabs, so a stream's ring outlives the worker that
 * published it: a publisher returning within the grace period, on any
 * worker, resumes the same ring and every player keeps its place.
 *
 * Rules: a live name refuses a second publisher; a publisher that leaves
 * (or whose worker dies) leaves its players attached for the grace period;
 * a player may wait for a publisher (an awaited name takes no slab); a
 * slab goes back to the pool only when
 * every worker that held it has let go of it.
 *
 * On an edge (`pull` set) a name awaited by players gets one puller: the
 * directory elects one worker to open the upstream (pull it from an
 * origin and publish it there), and every other player of the name, on
 * any worker, waits for that publish as for any other. One decision point,
 * so no race opens two upstreams; when nobody watches the stream for
 * idleStopMs, the puller is told to stop.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { SlabPool } from '../core/slab-pool.js';
import { StreamSlab } from '../media/stream-slab.js';
import type { DirectoryEvent, PublishGrant, Refusal, SubscribeGrant } from './messages.js';

/** A pulled copy asked to make way for a client's publish (yieldPull) has this long to stop. */
const YIELD_WAIT_MS = 3000;

export interface DirectoryOptions {
  maxStreams: number;
  /** Live streams one client address may publish on this node (access.maxPublishesPerIp); 0 = no cap. */
  maxPublishesPerIp?: number;
  republishGraceMs: number;
  playWaitMs: number;
  /** Edge: elect a puller for awaited names; close an unwatched upstream after idleStopMs. */
  pull?: { idleStopMs: number } | undefined;
}

interface Entry {
  id: number;
  key: string;
  /** The stream's slab; none while the name is only awaited by players. */
  sab: SharedArrayBuffer | undefined;
  state: 'waiting' | 'live' | 'grace';
  home: number | undefined;
  /** Workers holding the slab (home and readers). */
  holders: Set<number>;
  timer: NodeJS.Timeout | undefined;
  since: number;
  /** (edge) The worker asked to pull this name; while live by pull it is also the home. */
  puller?: number;
  /** (edge) The first player's query string, passed to the origin (tokens). */
  query?: string;
  /** (edge) The home has local players of its pulled stream (other workers' are their holds). */
  homeWatched?: boolean;
  /** The live publisher's address, while it counts against maxPublishesPerIp. */
  ip?: string;
  idleTimer?: NodeJS.Timeout;
  /** (origin) A client publish waits for this pulled copy to stop (yieldPull): resolved when the name is not live here. */
  yielding?: (() => void)[];
  yieldTimer?: NodeJS.Timeout;
}

export interface DirectoryStats {
  streams: number;
  live: number;
  /** Ended streams whose slab some worker still holds. */
  releasing: number;
}

export class StreamDirectory {
  private readonly publishesByIp = new Map<string, number>();
  private readonly entries = new Map<string, Entry>();
  /** Ended entries waiting for holders to let go, by id. */
  private readonly ending = new Map<number, Entry>();
  private nextId = 1;
  /** Told when a live name stops being live here (the cross-node directory gives its key back). */
  onPublishEnd: ((key: string) => void) | undefined;

  constructor(
    private readonly pool: SlabPool,
    private readonly opts: DirectoryOptions,
    /** Delivers an event to one worker. */
    private readonly send: (worker: number, e: DirectoryEvent) => void,
  ) {}

  private create(key: string, state: Entry['state']): Entry {
    const e: Entry = { id: this.nextId++, key, sab: undefined, state, home: undefined, holders: new Set(), timer: undefined, since: Date.now() };
    this.entries.set(key, e);
    return e;
  }

  /**
   * A slab for a stream that goes live, or a refusal. The pool counts slabs
   * of ended streams that some worker still holds, so it, not the number of
   * entries, is what says whether there is room.
   */
  private slabFor(key: string): SharedArrayBuffer | Refusal {
    const sab = this.pool.tryAcquire();
    if (!sab) {
      const releasing = this.ending.size;
      const why = releasing > 0 ? ` (${releasing} ended streams still being let go by their players' workers)` : '';
      return { ok: false, code: 'ERR_LIMIT', reason: `${key}: no room for another live stream: media.maxStreams = ${this.opts.maxStreams}${why}` };
    }
    StreamSlab.format(sab);
    return sab;
  }

  /** `ip`: the client publisher's address (none for an edge's own pulls), checked against maxPublishesPerIp. */
  publish(key: string, worker: number, ip?: string): PublishGrant {
    let e = this.entries.get(key);
    if (e?.state === 'live') return { ok: false, code: 'ERR_STREAM', reason: `${key} is already being published` };
    const cap = this.opts.maxPublishesPerIp ?? 0;
    if (ip !== undefined && cap > 0 && (this.publishesByIp.get(ip) ?? 0) >= cap) {
      return { ok: false, code: 'ERR_ACCESS', reason: `${ip} already publishes ${cap} streams (access.maxPublishesPerIp)` };
    }
    if (!e?.sab) {
      const sab = this.slabFor(key);
      if (!(sab instanceof SharedArrayBuffer)) return sab;
      e ??= this.create(key, 'live');
      e.sab = sab;
    }
    const sab = e.sab;
    clearTimeout(e.timer);
    e.timer = undefined;
    e.state = 'live';
    e.home = worker;
    if (ip !== undefined && cap > 0) {
      e.ip = ip;
      this.publishesByIp.set(ip, (this.publishesByIp.get(ip) ?? 0) + 1);
    }
    e.holders.add(worker);
    if (e.puller !== undefined && e.puller !== worker) {
      // A publisher here took the name while it was being pulled: that upstream has no use.
      this.send(e.puller, { t: 'pullStop', id: e.id, key, reason: 'a publisher on this node took the name' });
      e.puller = undefined;
    }
    e.homeWatched = false;
    for (const w of e.holders) if (w !== worker) this.send(w, { t: 'streamUp', id: e.id, key, sab, port: this.channelToHome(e) });
    this.checkIdle(e);
    return { ok: true, id: e.id, sab };
  }

  /**
   * (origin of a Redis cluster) A client's publish of a name this node has
   * only as a pulled copy (its source node is gone, or the claim would have
   * failed): the pull is told to stop, and the promise resolves once the
   * name is free here, so the publish resumes the same ring as a republish
   * and players stay. undefined: not a pulled copy, nothing to wait for.
   */
  yieldPull(key: string): Promise<void> | undefined {
    const e = this.entries.get(key);
    if (!e || e.state !== 'live' || e.home === undefined || e.home !== e.puller) return undefined;
    // Sent on every ask: a stop lost to a busy or replaced worker is asked again.
    this.send(e.home, { t: 'pullStop', id: e.id, key, reason: 'a client publishes the name on this node', yield: true });
    if (!e.yielding) {
      e.yielding = [];
      // A copy that does not stop in time keeps the name; the publish is then refused as before.
      e.yieldTimer = setTimeout(() => this.yielded(e), YIELD_WAIT_MS);
    }
    const waiting = e.yielding;
    return new Promise((resolve) => waiting.push(resolve));
  }

  /** (cluster.redis) `key` went live on some node: its waiting pull here, if any, looks again now. */
  wakePull(key: string): void {
    const e = this.entries.get(key);
    if (e && e.state !== 'live' && e.puller !== undefined) this.send(e.puller, { t: 'pullWake', id: e.id, key });
  }

  private yielded(e: Entry): void {
    const waiting = e.yielding;
    clearTimeout(e.yieldTimer);
    e.yielding = undefined;
    e.yieldTimer = undefined;
    for (const f of waiting ?? []) f();
  }

  /** A fresh channel whose other end the home worker gets: it posts head notes on it. */
  private channelToHome(e: Entry): MessagePort {
    const ch = new MessageChannel();
    this.send(e.home!, { t: 'attachReader', id: e.id, key: e.key, port: ch.port1 });
    return ch.port2;
  }

  unpublish(id: number, worker: number): void {
    const e = this.byId(id);
    if (!e || e.home !== worker || e.state !== 'live') return;
    this.goIdle(e, worker);
  }

  /**
   * The publisher is gone: readers keep the ring through the grace period.
   * A pulled stream someone still watches (a player came just as it was
   * stopped, or its upstream gave up) gets a new puller at once.
   */
  private goIdle(e: Entry, oldHome: number): void {
    const others = [...e.holders].find((w) => w !== oldHome);
    // A pulled copy that stops for a client's publish is not pulled again: the publish is about to take it.
    const repull = e.puller === oldHome && !e.yielding ? (e.homeWatched ? oldHome : others) : undefined;
    if (e.puller === oldHome) e.puller = undefined;
    e.homeWatched = false;
    clearTimeout(e.idleTimer);
    e.idleTimer = undefined;
    this.notLive(e);
    e.state = 'grace';
    this.onPublishEnd?.(e.key);
    this.yielded(e);
    e.home = undefined;
    for (const w of e.holders) if (w !== oldHome) this.send(w, { t: 'streamDown', id: e.id, key: e.key });
    if (this.opts.republishGraceMs === 0) return this.end(e, 'publisher left');
    e.timer = setTimeout(() => this.end(e, 'publisher did not return'), this.opts.republishGraceMs);
    if (repull !== undefined) this.ensurePuller(e, repull);
    this.endIfUnused(e);
  }

  /** (edge) An awaited name with players and nobody pulling it: `worker` opens its upstream. */
  private ensurePuller(e: Entry, worker: number, query?: string): void {
    if (!this.opts.pull || e.state === 'live' || e.puller !== undefined) return;
    e.puller = worker;
    if (query !== undefined) e.query ??= query;
    this.send(worker, { t: 'pull', id: e.id, key: e.key, query: e.query ?? '' });
  }

  /** (edge) Whether the home of a pulled stream has local players now. */
  watched(id: number, worker: number, yes: boolean): void {
    const e = this.byId(id);
    if (!e || e.home !== worker) return;
    e.homeWatched = yes;
    this.checkIdle(e);
  }

  /** (edge) The pull of an awaited name ended before it went live: no origin has it, its players need not wait longer. */
  pullEnded(id: number, worker: number, _reason: string): void {
    const e = this.byId(id);
    if (!e || e.puller !== worker) return;
    e.puller = undefined;
    // Players hear what they would from a standalone server (StreamNotFound / 404); the worker logged `reason`.
    if (e.state === 'waiting') this.end(e, 'stream not found');
  }

  /** (edge) A pulled stream nobody watches is stopped after idleStopMs; a player in between keeps it. */
  private checkIdle(e: Entry): void {
    if (!this.opts.pull || e.state !== 'live' || e.home === undefined || e.home !== e.puller) return;
    const watched = (): boolean => e.homeWatched === true || [...e.holders].some((w) => w !== e.home);
    if (watched()) {
      clearTimeout(e.idleTimer);
      e.idleTimer = undefined;
      return;
    }
    e.idleTimer ??= setTimeout(() => {
      e.idleTimer = undefined;
      if (this.entries.get(e.key) === e && e.state === 'live' && e.home === e.puller && !watched()) {
        this.send(e.home!, { t: 'pullStop', id: e.id, key: e.key, reason: `no players for ${this.opts.pull!.idleStopMs} ms (edge.idleStopMs)` });
      }
    }, this.opts.pull.idleStopMs);
  }

  subscribe(key: string, worker: number, query = ''): SubscribeGrant | undefined {
    let e = this.entries.get(key);
    if (!e) {
      if (this.opts.playWaitMs === 0) return undefined;
      // Awaited names hold no slab, but each is an entry and a timer: bounded too.
      if (this.waitingCount() >= this.opts.maxStreams) {
        return { ok: false, code: 'ERR_LIMIT', reason: `${key}: too many names awaited by players (media.maxStreams = ${this.opts.maxStreams})` };
      }
      e = this.create(key, 'waiting');
      const waiting = e;
      e.timer = setTimeout(() => this.end(waiting, 'stream not found'), this.opts.playWaitMs);
    }
    e.holders.add(worker);
    const grant: SubscribeGrant = { ok: true, id: e.id, sab: e.sab, live: e.state === 'live' };
    if (e.state === 'live' && e.home !== worker) grant.port = this.channelToHome(e);
    this.ensurePuller(e, worker, query);
    this.checkIdle(e);
    return grant;
  }

  private waitingCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.state === 'waiting') n++;
    return n;
  }

  /** A worker lets go of a slab: it has no players left there, or it acknowledges an end. */
  release(id: number, worker: number): void {
    const ended = this.ending.get(id);
    if (ended) {
      ended.holders.delete(worker);
      if (ended.holders.size === 0) this.free(ended);
      return;
    }
    const e = this.byId(id);
    if (!e || e.home === worker) return;
    e.holders.delete(worker);
    this.endIfUnused(e);
    this.checkIdle(e);
  }

  /** A worker died: its publishers go idle, its holds are dropped. */
  workerGone(worker: number): void {
    for (const e of [...this.entries.values()]) {
      if (e.home === worker) {
        // Its players died with it: a new puller is one of the survivors' (below).
        e.homeWatched = false;
        this.goIdle(e, worker);
      }
      if (this.entries.get(e.key) === e) {
        e.holders.delete(worker);
        if (e.puller === worker) e.puller = undefined;
        this.endIfUnused(e);
        const survivor = e.holders.values().next();
        if (!survivor.done) this.ensurePuller(e, survivor.value);
        this.checkIdle(e);
      }
    }
    for (const e of [...this.ending.values()]) this.release(e.id, worker);
  }

  /** A stream nobody publishes and nobody reads has no reason to wait. */
  private endIfUnused(e: Entry): void {
    if (e.state !== 'live' && e.holders.size === 0) this.end(e, 'no players left');
  }

  end(e: Entry, reason: string): void {
    if (this.entries.get(e.key) !== e) return;
    clearTimeout(e.timer);
    clearTimeout(e.idleTimer);
    this.notLive(e);
    this.entries.delete(e.key);
    if (e.state === 'live') this.onPublishEnd?.(e.key);
    this.yielded(e);
    // A pull still trying for a name that is over (no player waits any more, or the wait ran out) stops too.
    if (e.puller !== undefined && e.state !== 'live') this.send(e.puller, { t: 'pullStop', id: e.id, key: e.key, reason: `${reason} (${e.key})` });
    if (e.holders.size === 0) return this.free(e);
    this.ending.set(e.id, e);
    for (const w of e.holders) this.send(w, { t: 'streamEnd', id: e.id, key: e.key, reason });
  }

  /** The live publish of `e` ends: its address publishes one stream fewer. */
  private notLive(e: Entry): void {
    if (e.ip === undefined) return;
    const n = (this.publishesByIp.get(e.ip) ?? 0) - 1;
    if (n > 0) this.publishesByIp.set(e.ip, n);
    else this.publishesByIp.delete(e.ip);
    e.ip = undefined;
  }

  private free(e: Entry): void {
    this.ending.delete(e.id);
    if (e.sab) this.pool.release(e.sab);
  }

  private byId(id: number): Entry | undefined {
    for (const e of this.entries.values()) if (e.id === id) return e;
    return undefined;
  }

  /** Home worker of a live stream. */
  homeOf(key: string): number | undefined {
    return this.entries.get(key)?.home;
  }

  list(): { key: string; state: string; home: number | undefined; readers: number[]; since: number; puller?: number }[] {
    return [...this.entries.values()].map((e) => ({
      key: e.key,
      state: e.state,
      home: e.home,
      ...(e.puller !== undefined ? { puller: e.puller } : {}),
      readers: [...e.holders].filter((w) => w !== e.home),
      since: e.since,
    }));
  }

  stats(): DirectoryStats {
    let live = 0;
    for (const e of this.entries.values()) if (e.state === 'live') live++;
    return { streams: this.entries.size, live, releasing: this.ending.size };
  }

  closeAll(reason: string): void {
    for (const e of [...this.entries.values()]) this.end(e, reason);
  }
}

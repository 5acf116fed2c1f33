/**
 * HLS on one worker: the streams it segments (started by the first request
 * for one, freed after hls.idleStopMs without any), the viewers' sessions
 * (access control's on_play ... on_stop), and the memory bound.
 *
 * A viewer is an address with a query string (the signed URL's token, for
 * instance) asking for one stream: its first request is checked like any
 * play and holds a play lease; later requests from it ride on that until
 * it has been quiet for hls.sessionIdleMs. Sessions are per worker: a
 * viewer whose requests reach two workers is checked on each.
 *
 * An ended stream's last playlist (with EXT-X-ENDLIST) and segments stay
 * readable for three target durations by the viewers who watched it, so a
 * polling player ends cleanly instead of meeting a 404.
 *
 * In a cluster each stream is segmented by one worker of the node, and the
 * others asked for it mirror it (hls-node.ts); the bound is on the node's
 * bytes, each worker trimming what it holds.
 */
import { describeError } from '../core/errors.js';
import type { HlsHandle, HlsStats, ServerContext } from '../app/context.js';
import type { PlayLease } from '../app/stream-service.js';
import type { AccessClient } from '../access/policy.js';
import { ringRefForm } from '../media/egress/ring-ref-form.js';
import { HlsStream } from './hls-stream.js';
import { HlsMirror } from './hls-mirror.js';
import { HlsNode } from './hls-node.js';
import { sharedAlloc } from './hls-share.js';
import type { HlsSource } from './hls-source.js';
import { RemuxPool } from '../hls/remux-pool.js';

interface Session {
  lease: PlayLease;
  lastAt: number;
}

export type HlsCounters = Omit<HlsStats, 'streams' | 'mirrored' | 'viewers' | 'heldBytes' | 'memoryBoundBytes'>;

const SWEEP_MS = 1000;
/** How long an ended stream stays readable, in target durations: a player that reloads once per target sees its end. */
const ENDED_TARGETS = 3;

interface Ended {
  s: HlsSource;
  until: number;
  /** Session ids that watched it: only they read it (no new access check for a stream that is gone). */
  viewers: Set<string>;
}
/** No lag policy for the HLS reader: it takes everything at once. */
const NO_LIMIT = 0x7fffffff;

export class HlsService implements HlsHandle {
  readonly streams = new Map<string, HlsSource>();
  private readonly starting = new Map<string, Promise<HlsSource | undefined>>();
  private readonly sessions = new Map<string, Session>();
  /** Session ids per stream key since its HLS started here (for the ended-stream grace). */
  private readonly viewersSeen = new Map<string, Set<string>>();
  private readonly ended = new Map<string, Ended>();
  readonly counters: HlsCounters = {
    requests: { playlist: 0, mediaPlaylist: 0, blocking: 0, segment: 0, part: 0, init: 0, tsPlaylist: 0, tsSegment: 0 },
    statuses: {}, bytesOut: 0, partsBuilt: 0, trimmed: 0, streamsStarted: 0,
  };
  /** The bound on held bytes: the node's (hls.maxMemoryBytes) with a node to share it, else this worker's share of it. */
  readonly memoryBound: number;
  /** (cluster) The node's other workers: streams owned or mirrored, the node-wide bytes. */
  private readonly node: HlsNode | undefined;
  private readonly sweeper: NodeJS.Timeout;
  /** Remux threads (hls.remuxThreads), started with the first HLS stream. */
  private pool: RemuxPool | undefined;
  private readonly form;

  constructor(private readonly ctx: ServerContext) {
    const h = ctx.config.hls;
    // Worker 0 is the one thread of `--workers 0` (and of in-process servers): all of it.
    const share = h.shareAcrossWorkers ? ctx.hlsNode : undefined;
    this.memoryBound = ctx.workerId === 0 || share ? h.maxMemoryBytes : Math.floor(h.maxMemoryBytes / Math.max(1, ctx.config.cluster.workers));
    // A silent owner is taken over when the primary would call its thread stuck (never sooner than three beats).
    const staleMs = Math.max(ctx.config.cluster.heartbeatTimeoutMs || 5000, 3 * SWEEP_MS);
    this.node = share && new HlsNode(share, ctx.workerId, staleMs, {
      find: (key) => this.streams.get(key) ?? this.ended.get(key)?.s,
      orphaned: (key, m, why) => {
        ctx.log.warn({ streamKey: key, reason: why }, 'hls: mirrored stream let go; the next request takes it over');
        this.retire(key, m);
      },
    }, ctx.log);
    this.form = ringRefForm(h.windowSegments);
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** The viewer's lease: found, or asked of access control (throws AccessRefused); undefined = no such stream. */
  async session(app: string, name: string, query: string, ip: string, client: () => AccessClient): Promise<PlayLease | undefined> {
    const id = `${ip}|${app}/${name}|${query}`;
    const known = this.sessions.get(id);
    if (known && !known.lease.released) {
      known.lastAt = Date.now();
      this.saw(`${app}/${name}`, id);
      return known.lease;
    }
    const lease = await this.ctx.streams.play(app, name, query, client());
    if (!lease) return undefined;
    this.sessions.get(id)?.lease.release();
    this.sessions.set(id, { lease, lastAt: Date.now() });
    this.saw(`${app}/${name}`, id);
    lease.onRelease(() => {
      if (this.sessions.get(id)?.lease === lease) this.sessions.delete(id);
    });
    return lease;
  }

  /** `id` watches `key` (for the ended-stream grace); pruned with the session at the sweep. */
  private saw(key: string, id: string): void {
    let seen = this.viewersSeen.get(key);
    if (!seen) this.viewersSeen.set(key, (seen = new Set()));
    seen.add(id);
  }

  /** The ended HLS of a stream this viewer watched, while it stays readable; undefined otherwise. */
  endedFor(app: string, name: string, query: string, ip: string): HlsSource | undefined {
    const key = `${app}/${name}`;
    const id = `${ip}|${key}|${query}`;
    const cur = this.streams.get(key);
    // Ended but not let go yet (its lease is released after the last subscriber is told).
    if (cur?.ended && cur.endReason !== undefined) return this.viewersSeen.get(key)?.has(id) ? cur : undefined;
    const e = this.ended.get(key);
    if (!e || Date.now() > e.until || !e.viewers.has(id)) return undefined;
    // Published again meanwhile (and segmented here): the new stream is what the viewer reads.
    if (cur && cur.endReason === undefined && cur.view.segments.length > 0) return undefined;
    return e.s;
  }

  /** The stream's HLS here, started on first use; undefined when there is no such stream. */
  stream(app: string, name: string): Promise<HlsSource | undefined> {
    const key = `${app}/${name}`;
    const have = this.streams.get(key);
    if (have && have.endReason === undefined) {
      have.lastRequestAt = Date.now();
      return Promise.resolve(have);
    }
    let p = this.starting.get(key);
    if (!p) {
      p = this.open(app, name).finally(() => this.starting.delete(key));
      this.starting.set(key, p);
    }
    return p;
  }

  private async open(app: string, name: string): Promise<HlsSource | undefined> {
    const key = `${app}/${name}`;
    const old = this.streams.get(key);
    if (old) this.retire(key, old);
    // The segmenter's own lease has no client: access control was asked for the viewer.
    const lease = await this.ctx.streams.play(app, name);
    if (!lease) return undefined;
    if (lease.stream.live) this.forgetEnded(key); // published again: the new one is what viewers read
    let s: HlsSource;
    try {
      s = this.sourceFor(key, lease);
      lease.onRelease(() => this.drop(key, s));
      this.streams.set(key, s);
      s.start();
    } catch (err) {
      lease.release();
      throw err;
    }
    this.ctx.log.info({ streamKey: key }, s instanceof HlsMirror ? "hls: serving another worker's segments" : 'hls: segmenting');
    return s;
  }

  /**
   * A mirror when another worker owns the stream's HLS, else a segmenter
   * (the owner, with a node). An awaited stream has no ring to claim in
   * yet: its segmenter claims when the stream goes live, and segments for
   * this worker alone if another worker claimed first.
   */
  private sourceFor(key: string, lease: PlayLease): HlsSource {
    const h = this.ctx.config.hls;
    const policy = { ...this.ctx.config.player, queueMaxBytes: NO_LIMIT, queueMaxMs: NO_LIMIT };
    const ring = lease.stream.ring;
    const claim = ring ? this.node?.claim(ring.ctl) : undefined;
    if (claim && !claim.own) {
      const m = new HlsMirror(lease, claim.token, { segmentMs: h.segmentMs, partMs: h.partMs, policy }, this.ctx.log);
      this.node!.opened(m);
      return m;
    }
    if (h.remuxThreads > 0) this.pool ??= new RemuxPool(h.remuxThreads);
    const node = this.node;
    const seg: HlsStream = new HlsStream(lease, {
      segmentMs: h.segmentMs, partMs: h.partMs, windowSegments: h.windowSegments, form: this.form, pool: this.pool, policy,
      ...(node ? { alloc: sharedAlloc } : {}),
      built: (ms) => {
        this.counters.partsBuilt++;
        this.ctx.latency.hlsBuild(ms);
      },
      // Checked at every new part, not only at the sweep: the bound holds between sweeps too.
      grew: () => {
        this.note(seg);
        if (this.over()) this.bound();
        node?.publish(seg);
      },
      published: () => {
        if (!node || seg.token !== undefined || !lease.stream.ring || seg.endReason !== undefined) return;
        const late = node.claim(lease.stream.ring.ctl);
        if (late.own) seg.token = late.token;
        else this.ctx.log.info({ streamKey: key }, 'hls: another worker claimed this stream first; segmenting it here too');
      },
    }, this.ctx.log);
    seg.token = claim?.token;
    this.counters.streamsStarted++;
    return seg;
  }

  /** An ended stream's grace is over (or a new one replaces it): a mirror stops listening for states. */
  private forgetEnded(key: string): void {
    const e = this.ended.get(key);
    if (!e) return;
    this.ended.delete(key);
    if (e.s instanceof HlsMirror) e.s.close();
  }

  /** `s` goes for good (idle, replaced, orphaned, closing): an owner of a live stream tells its mirrors. */
  private retire(key: string, s: HlsSource): void {
    this.drop(key, s);
    if (s instanceof HlsStream) this.node?.released(s, true);
    s.close();
  }

  /**
   * Over the bound: the node's bytes with a node, else this worker's. With
   * a node, only a worker holding at least an even share trims (the one
   * holding most always does): one with little does not give its few
   * segments up for another's many.
   */
  private over(): boolean {
    if (!this.node) return this.held > this.memoryBound;
    const total = this.node.nodeHeld();
    return total > this.memoryBound && this.held >= total / this.ctx.config.cluster.workers;
  }

  /** Bytes of every stream's segments, parts and inits here: a running total, kept per stream as each changes (not summed per part). */
  get heldBytes(): number {
    return this.held;
  }

  private held = 0;
  private readonly heldBy = new Map<HlsSource, number>();

  /** A stream's held bytes changed: the total follows (only for the stream current under its key). */
  private note(s: HlsSource): void {
    if (this.streams.get(s.key) !== s) return;
    const n = s.heldBytes;
    this.setHeld(this.held + n - (this.heldBy.get(s) ?? 0));
    this.heldBy.set(s, n);
  }

  private setHeld(n: number): void {
    this.held = n;
    this.node?.setHeld(n);
  }

  /** `s` leaves the map and the total; one whose publisher ended stays readable for a while (Ended). */
  private drop(key: string, s: HlsSource): void {
    if (this.streams.get(key) !== s) return;
    this.streams.delete(key);
    this.setHeld(this.held - (this.heldBy.get(s) ?? 0));
    this.heldBy.delete(s);
    if (s instanceof HlsStream) this.node?.released(s, false);
    const viewers = this.viewersSeen.get(key);
    this.viewersSeen.delete(key);
    if (s.ended && viewers) {
      const target = Math.ceil(Math.max(this.ctx.config.hls.segmentMs, s.maxSegmentMs) / 1000) * 1000;
      this.forgetEnded(key);
      this.ended.set(key, { s, until: Date.now() + ENDED_TARGETS * target, viewers });
    }
  }

  stats(): HlsStats {
    let mirrored = 0;
    for (const s of this.streams.values()) if (s instanceof HlsMirror) mirrored++;
    // Reported as an even share of a node's bound, so that the cluster's total of it is the bound.
    const memoryBoundBytes = this.node ? Math.floor(this.memoryBound / this.ctx.config.cluster.workers) : this.memoryBound;
    return { ...this.counters, streams: this.streams.size - mirrored, mirrored, viewers: this.sessions.size, heldBytes: this.heldBytes, memoryBoundBytes };
  }

  viewersOf(streamKey: string): number {
    let n = 0;
    for (const v of this.sessions.values()) if (v.lease.stream.key === streamKey) n++;
    return n;
  }

  count(status: number, bytes = 0): void {
    this.counters.statuses[status] = (this.counters.statuses[status] ?? 0) + 1;
    this.counters.bytesOut += bytes;
  }

  /** Idle streams and sessions go; then the oldest segments of the largest streams until under the bound. */
  sweep(now = Date.now()): void {
    const h = this.ctx.config.hls;
    for (const [key, e] of this.ended) if (now > e.until) this.forgetEnded(key);
    for (const [key, s] of this.streams) {
      if (now - s.lastRequestAt >= h.idleStopMs) {
        this.ctx.log.info({ streamKey: key, idleMs: now - s.lastRequestAt }, 'hls: idle, segments freed');
        this.retire(key, s);
      } else if (this.node?.tick(key, s, now)) this.retire(key, s);
    }
    for (const [id, v] of this.sessions) {
      if (now - v.lastAt < h.sessionIdleMs) continue;
      this.sessions.delete(id);
      v.lease.release();
    }
    // Viewers seen stay only while their session lives (or until an ended stream's grace took them).
    for (const [key, seen] of this.viewersSeen) {
      if (this.streams.get(key)?.ended) continue; // ended, not let go yet: these are its grace's viewers
      for (const id of seen) if (!this.sessions.has(id)) seen.delete(id);
      if (seen.size === 0) this.viewersSeen.delete(key);
    }
    this.bound();
  }

  /** Keeps held bytes under this worker's share: the largest stream gives up its oldest segment first. */
  bound(): void {
    // A trim is a change too (HlsStream calls back): one pass at a time.
    if (this.bounding) return;
    this.bounding = true;
    try {
      this.trimToBound();
    } finally {
      this.bounding = false;
    }
  }

  private bounding = false;

  private trimToBound(): void {
    while (this.over()) {
      // A trim calls back (note()), which keeps the total and the per-stream figures current.
      const largest = [...this.heldBy].sort((a, b) => b[1] - a[1]).map(([s]) => s);
      if (!largest.find((s) => s.trimOldest())) break;
      this.counters.trimmed++;
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const [key, s] of [...this.streams]) {
      try {
        this.retire(key, s);
      } catch (err) {
        this.ctx.log.warn({ reason: describeError(err) }, 'hls: close failed');
      }
    }
    this.streams.clear();
    for (const key of [...this.ended.keys()]) this.forgetEnded(key);
    this.viewersSeen.clear();
    this.heldBy.clear();
    this.setHeld(0);
    this.node?.close();
    for (const v of this.sessions.values()) v.lease.release();
    this.sessions.clear();
    void this.pool?.close().catch(() => {});
    this.pool = undefined;
  }
}

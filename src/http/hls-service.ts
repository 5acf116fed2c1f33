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
 */
import { describeError } from '../core/errors.js';
import type { HlsHandle, HlsStats, ServerContext } from '../app/context.js';
import type { PlayLease } from '../app/stream-service.js';
import type { AccessClient } from '../access/policy.js';
import { ringRefForm } from '../media/egress/ring-ref-form.js';
import { HlsStream } from './hls-stream.js';
import { RemuxPool } from '../hls/remux-pool.js';

interface Session {
  lease: PlayLease;
  lastAt: number;
}

export type HlsCounters = Omit<HlsStats, 'streams' | 'viewers' | 'heldBytes' | 'memoryBoundBytes'>;

const SWEEP_MS = 1000;
/** How long an ended stream stays readable, in target durations: a player that reloads once per target sees its end. */
const ENDED_TARGETS = 3;

interface Ended {
  s: HlsStream;
  until: number;
  /** Session ids that watched it: only they read it (no new access check for a stream that is gone). */
  viewers: Set<string>;
}
/** No lag policy for the HLS reader: it takes everything at once. */
const NO_LIMIT = 0x7fffffff;

export class HlsService implements HlsHandle {
  readonly streams = new Map<string, HlsStream>();
  private readonly starting = new Map<string, Promise<HlsStream | undefined>>();
  private readonly sessions = new Map<string, Session>();
  /** Session ids per stream key since its HLS started here (for the ended-stream grace). */
  private readonly viewersSeen = new Map<string, Set<string>>();
  private readonly ended = new Map<string, Ended>();
  readonly counters: HlsCounters = {
    requests: { playlist: 0, mediaPlaylist: 0, blocking: 0, segment: 0, part: 0, init: 0, tsPlaylist: 0, tsSegment: 0 },
    statuses: {}, bytesOut: 0, partsBuilt: 0, trimmed: 0, streamsStarted: 0,
  };
  /** This worker's share of hls.maxMemoryBytes. */
  readonly memoryBound: number;
  private readonly sweeper: NodeJS.Timeout;
  /** Remux threads (hls.remuxThreads), started with the first HLS stream. */
  private pool: RemuxPool | undefined;
  private readonly form;

  constructor(private readonly ctx: ServerContext) {
    const h = ctx.config.hls;
    // Worker 0 is the one thread of `--workers 0` (and of in-process servers): all of it.
    this.memoryBound = ctx.workerId === 0 ? h.maxMemoryBytes : Math.floor(h.maxMemoryBytes / Math.max(1, ctx.config.cluster.workers));
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
  endedFor(app: string, name: string, query: string, ip: string): HlsStream | undefined {
    const key = `${app}/${name}`;
    const id = `${ip}|${key}|${query}`;
    const cur = this.streams.get(key);
    // Ended but not let go yet (its lease is released after the last subscriber is told).
    if (cur?.seg.ended && cur.endReason !== undefined) return this.viewersSeen.get(key)?.has(id) ? cur : undefined;
    const e = this.ended.get(key);
    if (!e || Date.now() > e.until || !e.viewers.has(id)) return undefined;
    // Published again meanwhile (and segmented here): the new stream is what the viewer reads.
    if (cur && cur.endReason === undefined && cur.view.segments.length > 0) return undefined;
    return e.s;
  }

  /** The stream's HLS here, started on first use; undefined when there is no such stream. */
  stream(app: string, name: string): Promise<HlsStream | undefined> {
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

  private async open(app: string, name: string): Promise<HlsStream | undefined> {
    const key = `${app}/${name}`;
    const old = this.streams.get(key);
    if (old) {
      this.drop(key, old);
      old.close();
    }
    // The segmenter's own lease has no client: access control was asked for the viewer.
    const lease = await this.ctx.streams.play(app, name);
    if (!lease) return undefined;
    if (lease.stream.live) this.ended.delete(key); // published again: the new one is what viewers read
    const h = this.ctx.config.hls;
    if (h.remuxThreads > 0) this.pool ??= new RemuxPool(h.remuxThreads);
    const s = new HlsStream(lease, {
      segmentMs: h.segmentMs, partMs: h.partMs, windowSegments: h.windowSegments, form: this.form, pool: this.pool,
      policy: { ...this.ctx.config.player, queueMaxBytes: NO_LIMIT, queueMaxMs: NO_LIMIT },
      built: (ms) => {
        this.counters.partsBuilt++;
        this.ctx.latency.hlsBuild(ms);
      },
      // Checked at every new part, not only at the sweep: the bound holds between sweeps too.
      grew: () => {
        this.note(s);
        if (this.held > this.memoryBound) this.bound();
      },
    }, this.ctx.log);
    lease.onRelease(() => this.drop(key, s));
    this.streams.set(key, s);
    this.counters.streamsStarted++;
    s.start();
    this.ctx.log.info({ streamKey: key }, 'hls: segmenting');
    return s;
  }

  /** Bytes of every stream's segments, parts and inits here: a running total, kept per stream as each changes (not summed per part). */
  get heldBytes(): number {
    return this.held;
  }

  private held = 0;
  private readonly heldBy = new Map<HlsStream, number>();

  /** A stream's held bytes changed: the total follows (only for the stream current under its key). */
  private note(s: HlsStream): void {
    if (this.streams.get(s.key) !== s) return;
    const n = s.heldBytes;
    this.held += n - (this.heldBy.get(s) ?? 0);
    this.heldBy.set(s, n);
  }

  /** `s` leaves the map and the total; one whose publisher ended stays readable for a while (Ended). */
  private drop(key: string, s: HlsStream): void {
    if (this.streams.get(key) !== s) return;
    this.streams.delete(key);
    this.held -= this.heldBy.get(s) ?? 0;
    this.heldBy.delete(s);
    const viewers = this.viewersSeen.get(key);
    this.viewersSeen.delete(key);
    if (s.seg.ended && viewers) {
      const target = Math.ceil(Math.max(this.ctx.config.hls.segmentMs, s.seg.maxSegmentMs) / 1000) * 1000;
      this.ended.set(key, { s, until: Date.now() + ENDED_TARGETS * target, viewers });
    }
  }

  stats(): HlsStats {
    return { ...this.counters, streams: this.streams.size, viewers: this.sessions.size, heldBytes: this.heldBytes, memoryBoundBytes: this.memoryBound };
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
    for (const [key, e] of this.ended) if (now > e.until) this.ended.delete(key);
    for (const [key, s] of this.streams) {
      if (now - s.lastRequestAt < h.idleStopMs) continue;
      this.ctx.log.info({ streamKey: key, idleMs: now - s.lastRequestAt }, 'hls: idle, segments freed');
      this.drop(key, s);
      s.close();
    }
    for (const [id, v] of this.sessions) {
      if (now - v.lastAt < h.sessionIdleMs) continue;
      this.sessions.delete(id);
      v.lease.release();
    }
    // Viewers seen stay only while their session lives (or until an ended stream's grace took them).
    for (const [key, seen] of this.viewersSeen) {
      if (this.streams.get(key)?.seg.ended) continue; // ended, not let go yet: these are its grace's viewers
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
    while (this.held > this.memoryBound) {
      // A trim calls back (note()), which keeps the total and the per-stream figures current.
      const largest = [...this.heldBy].sort((a, b) => b[1] - a[1]).map(([s]) => s);
      if (!largest.find((s) => s.trimOldest())) break;
      this.counters.trimmed++;
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const s of this.streams.values()) {
      try {
        s.close();
      } catch (err) {
        this.ctx.log.warn({ reason: describeError(err) }, 'hls: close failed');
      }
    }
    this.streams.clear();
    this.ended.clear();
    this.viewersSeen.clear();
    this.heldBy.clear();
    this.held = 0;
    for (const v of this.sessions.values()) v.lease.release();
    this.sessions.clear();
    void this.pool?.close().catch(() => {});
    this.pool = undefined;
  }
}

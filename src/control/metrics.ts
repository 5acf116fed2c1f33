/**
 * /metrics: the primary's Prometheus registry (prom-client). Nothing is
 * counted in the primary: each scrape asks every worker for a fresh
 * snapshot and the collectors read it.
 *
 * Every worker figure comes twice: `sluice_<name>` is the cluster total and
 * `sluice_worker_<name>` the same per worker (label `worker`), as separate
 * families so that sum() over one never counts anything twice. A worker
 * that dies leaves its counts in the totals (a total that went back would
 * read as a counter reset). Latency is exposed as Prometheus histograms
 * with fixed buckets, so a fleet's pods can be aggregated (sum by le);
 * their counts come from HdrHistograms of every sample since each worker
 * started (app/latency.ts: retired samples plus the window), merged across workers by adding bucket
 * counts. docs/operations.md lists the names and bounds.
 */
import type { SlabPoolStats } from '../core/slab-pool.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ClientProtocol } from '../cluster/messages.js';
import { countsAtOrBelow, mergeHistograms, type Histogram as Hdr } from '../core/hdr.js';
import { allSamples, newLatencyHistogram, type LatencyMetric } from '../app/latency.js';
import { packageVersion } from '../app/version.js';
import type { ProtocolTraffic, WorkerSnapshot } from './snapshot.js';
import type { UpstreamInfo } from '../app/context.js';
import type { RedisDirectoryStats } from '../cluster/redis-directory.js';

type Labels = Record<string, string>;
type Reading = [Labels, number][];

interface Family {
  /** The cluster total's name; the per-worker twin is `sluice_worker_…`. */
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  labelNames: string[];
  read(w: WorkerSnapshot): Reading;
}

const PROTOCOLS: readonly ClientProtocol[] = ['rtmp', 'http-flv', 'ws-flv'];
const perProtocol = (f: (t: ProtocolTraffic) => number) => (w: WorkerSnapshot): Reading => PROTOCOLS.map((p) => [{ protocol: p }, f(w.traffic[p])]);
const one = (f: (w: WorkerSnapshot) => number) => (w: WorkerSnapshot): Reading => [[{}, f(w)]];
const UPSTREAM_STATES: Record<UpstreamInfo['kind'], readonly UpstreamInfo['state'][]> = {
  pull: ['connecting', 'playing', 'retrying'],
  forward: ['connecting', 'publishing', 'retrying'],
  relay: ['connecting', 'publishing', 'retrying'],
};
function upstreamStates(w: WorkerSnapshot): Reading {
  return Object.entries(UPSTREAM_STATES).flatMap(([kind, states]) =>
    states.map((state): [Labels, number] => [{ kind, state }, w.upstreams.filter((u) => u.kind === kind && u.state === state).length]),
  );
}

export const FAMILIES: readonly Family[] = [
  { name: 'sluice_connections_total', type: 'counter', labelNames: ['protocol'], read: perProtocol((t) => t.accepted),
    help: 'Connections accepted: RTMP TCP connections (refused ones included), HTTP-FLV and WS-FLV players' },
  { name: 'sluice_connections', type: 'gauge', labelNames: ['protocol'], read: perProtocol((t) => t.open), help: 'Connections open' },
  { name: 'sluice_connections_refused_total', type: 'counter', labelNames: [], read: one((w) => w.counters.connectionsRefused),
    help: 'RTMP connections refused at rtmp.maxConnections' },
  { name: 'sluice_publishers', type: 'gauge', labelNames: [], read: one((w) => w.publishers), help: 'RTMP sessions publishing' },
  { name: 'sluice_players', type: 'gauge', labelNames: ['protocol'], read: perProtocol((t) => t.players), help: 'Players attached to a stream' },
  { name: 'sluice_streams', type: 'gauge', labelNames: [], read: one((w) => w.streams.filter((s) => s.home && s.live).length),
    help: 'Streams being published (counted on their home worker)' },
  { name: 'sluice_bytes_in_total', type: 'counter', labelNames: ['protocol'], read: perProtocol((t) => t.bytesIn),
    help: 'Bytes received from clients, open connections included' },
  { name: 'sluice_bytes_out_total', type: 'counter', labelNames: ['protocol'], read: perProtocol((t) => t.bytesOut),
    help: 'Bytes sent to clients, open connections included' },
  { name: 'sluice_tags_dropped_total', type: 'counter', labelNames: [], read: one((w) => w.tagsDropped),
    help: 'Tags skipped for slow or lapped players (they jump to a keyframe)' },
  { name: 'sluice_timestamp_jumps_total', type: 'counter', labelNames: [], read: one((w) => w.counters.timestampJumps),
    help: 'Publisher timestamp jumps over media.maxTimestampJumpMs, re-based so players see no gap' },
  { name: 'sluice_players_evicted_total', type: 'counter', labelNames: [], read: one((w) => w.counters.playersEvicted),
    help: 'Players disconnected for not reading (player.stallTimeoutMs)' },
  { name: 'sluice_session_errors_total', type: 'counter', labelNames: ['code'],
    read: (w) => Object.entries(w.counters.sessionErrors).map(([code, n]): [Labels, number] => [{ code }, n ?? 0]),
    help: 'Sessions ended by an error, by error code' },
  { name: 'sluice_refused_total', type: 'counter', labelNames: ['action', 'reason'],
    read: (w) => Object.entries(w.counters.refused).map(([k, n]): [Labels, number] => {
      const [action = '', reason = ''] = k.split(' ');
      return [{ action, reason }, n];
    }),
    help: 'Publishes and plays refused by access control (access.*), by action and reason' },
  { name: 'sluice_handshake_failures_total', type: 'counter', labelNames: [], read: one((w) => w.counters.handshakeFailures),
    help: 'RTMP sessions that ended before completing the handshake' },
  { name: 'sluice_reconnect_requests_total', type: 'counter', labelNames: [], read: one((w) => w.counters.reconnectRequests),
    help: 'E-RTMP NetConnection.Connect.ReconnectRequest sent to RTMP clients on drain' },
  { name: 'sluice_publishes_total', type: 'counter', labelNames: [], read: one((w) => w.counters.publishesTotal), help: 'Publishes started' },
  { name: 'sluice_upstream_connections', type: 'gauge', labelNames: ['kind', 'state'], read: upstreamStates,
    help: 'Upstream connections by kind (pull from an origin, forward to one, relay push) and state' },
  { name: 'sluice_upstream_reconnects_total', type: 'counter', labelNames: [], read: one((w) => w.upstreamTotals.reconnects),
    help: 'Upstream attempts after the first (failover to the next origin or destination, retries)' },
  { name: 'sluice_upstream_bytes_total', type: 'counter', labelNames: ['direction'],
    read: (w) => [[{ direction: 'in' }, w.upstreamTotals.bytesIn], [{ direction: 'out' }, w.upstreamTotals.bytesOut]],
    help: 'Bytes received from origins (pulls) and sent upstream (forward, relay push)' },
  { name: 'sluice_hls_requests_total', type: 'counter', labelNames: ['kind'],
    read: (w) => Object.entries(w.hls.requests).map(([kind, n]): [Labels, number] => [{ kind }, n]),
    help: 'HLS requests by kind: playlist (the .m3u8 players open), mediaPlaylist (.fmp4.m3u8), blocking (those with _HLS_msn, also counted by URL), segment, part, init; tsPlaylist, tsSegment (MPEG-TS)' },
  { name: 'sluice_hls_responses_total', type: 'counter', labelNames: ['status'],
    read: (w) => Object.entries(w.hls.statuses).map(([status, n]): [Labels, number] => [{ status }, n]),
    help: 'HLS answers by HTTP status' },
  { name: 'sluice_hls_bytes_out_total', type: 'counter', labelNames: [], read: one((w) => w.hls.bytesOut),
    help: 'HLS body bytes sent (playlists, segments, parts, inits)' },
  { name: 'sluice_hls_streams', type: 'gauge', labelNames: [], read: one((w) => w.hls.streams),
    help: 'Streams being segmented for HLS (one worker of the node segments each stream)' },
  { name: 'sluice_hls_mirrored_streams', type: 'gauge', labelNames: [], read: one((w) => w.hls.mirrored),
    help: "HLS streams served from another worker's segments (shared memory, nothing built here)" },
  { name: 'sluice_hls_viewers', type: 'gauge', labelNames: [], read: one((w) => w.hls.viewers),
    help: 'HLS viewers: an address and query that asked within hls.sessionIdleMs' },
  { name: 'sluice_hls_held_bytes', type: 'gauge', labelNames: [], read: one((w) => w.hls.heldBytes),
    help: 'Bytes of HLS segments, parts and init segments held in memory' },
  { name: 'sluice_hls_memory_bound_bytes', type: 'gauge', labelNames: [], read: one((w) => w.hls.memoryBoundBytes),
    help: "The bound on sluice_hls_held_bytes (hls.maxMemoryBytes; per worker an even share, though the bound is on the node's total)" },
  { name: 'sluice_hls_parts_built_total', type: 'counter', labelNames: [], read: one((w) => w.hls.partsBuilt),
    help: 'HLS parts (moof + mdat) built' },
  { name: 'sluice_hls_segments_trimmed_total', type: 'counter', labelNames: [], read: one((w) => w.hls.trimmed),
    help: 'HLS segments dropped before leaving the window, to stay under hls.maxMemoryBytes' },
];

/** Bucket bounds in seconds: a 1-2.5-5 ladder from 1 ms to 10 s, with extra steps where a metric's samples gather. */
const LADDER = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ladderWith = (...steps: number[]): number[] => [...LADDER, ...steps].sort((a, b) => a - b);

export const LATENCY_FAMILIES: readonly { metric: LatencyMetric; name: string; help: string; buckets: readonly number[] }[] = [
  // Merged writes (player.mergeBudgetMs, 40 ms by default, or a fixed player.mergeWriteMs) hold tags back up to that long.
  { metric: 'ingestToEgress', name: 'sluice_ingest_to_egress_seconds', buckets: ladderWith(0.075, 0.15, 0.2),
    help: 'Delay from a tag arriving from its publisher to its handoff to a player socket' },
  { metric: 'firstFrame', name: 'sluice_first_frame_seconds', buckets: LADDER,
    help: 'Time from a play request to the first media handed to the player' },
  // Sub-millisecond on a LAN.
  { metric: 'handshake', name: 'sluice_handshake_seconds', buckets: ladderWith(0.00025, 0.0005),
    help: 'RTMP handshake time, from TCP accept to handshake done' },
  { metric: 'pullStart', name: 'sluice_pull_start_seconds', buckets: LADDER,
    help: 'Edge: time from the first player asking for a stream the node lacks to the first message from an origin' },
  // A part of a few hundred KB copies in well under a millisecond.
  { metric: 'hlsBuild', name: 'sluice_hls_part_build_seconds', buckets: ladderWith(0.0001, 0.00025, 0.0005),
    help: 'HLS: time to build one part (moof + mdat) from the stream ring' },
];

const perWorker = (name: string): string => name.replace(/^sluice_/, 'sluice_worker_');
const key = (l: Labels): string => JSON.stringify(l);

function accumulate(into: Map<string, [Labels, number]>, reading: Reading): void {
  for (const [labels, v] of reading) {
    const have = into.get(key(labels));
    if (have) have[1] += v;
    else into.set(key(labels), [labels, v]);
  }
}

/** One latency metric of some workers: every sample since they started (µs) and the samples' sum. */
interface LatencyTotal {
  histogram: Hdr;
  sumUs: number;
}

const newTotal = (): LatencyTotal => ({ histogram: newLatencyHistogram(), sumUs: 0 });

/** Adds one part (a worker's snapshot or the retired workers' total) into `into`; returns it. */
function addTotal(into: LatencyTotal, histograms: readonly (string | Hdr)[], sumUs: number): LatencyTotal {
  mergeHistograms(into.histogram, histograms);
  into.sumUs += sumUs;
  return into;
}

const addWorker = (into: LatencyTotal, w: WorkerSnapshot, m: LatencyMetric): LatencyTotal => addTotal(into, allSamples(w.latency[m]), w.latency[m].sumUs);

/** A histogram whose buckets, sum and count are read from HdrHistograms (prom-client only formats them). */
class HdrBuckets extends Histogram<string> {
  private readonly boundsUs: number[];

  constructor(
    private readonly family: string,
    private readonly helpText: string,
    labelNames: string[],
    private readonly bounds: readonly number[],
    registry: Registry,
    private readonly read: () => [Labels, LatencyTotal][],
  ) {
    super({ name: family, help: helpText, labelNames, buckets: [...bounds], registers: [registry] });
    this.boundsUs = bounds.map((s) => Math.round(s * 1e6));
  }

  /**
   * What the registry formats: prom-client reads a histogram through this
   * method (its get() adds nothing but merging `sharedLabels` into `labels`),
   * so values take its shape: a series' labels shared, `le` apart.
   */
  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    const bucket = `${this.family}_bucket`;
    for (const [labels, t] of this.read()) {
      const counts = countsAtOrBelow(t.histogram, this.boundsUs);
      this.bounds.forEach((le, i) => values.push({ metricName: bucket, labels: { le }, sharedLabels: labels, value: counts[i]! }));
      // One histogram gives every figure, so +Inf is _count and no bucket exceeds it.
      const count = t.histogram.totalCount;
      values.push({ metricName: bucket, labels: { le: '+Inf' }, sharedLabels: labels, value: count });
      values.push({ metricName: `${this.family}_sum`, labels: {}, sharedLabels: labels, value: t.sumUs / 1e6 });
      values.push({ metricName: `${this.family}_count`, labels: {}, sharedLabels: labels, value: count });
    }
    return { name: this.family, help: this.helpText, type: 'histogram', aggregator: 'sum', values };
  }
}

interface MetricValue {
  metricName: string;
  labels: { le?: number | string };
  sharedLabels: Labels;
  value: number;
}

/** What the registry reads from the cluster. */
export interface MetricsSource {
  snapshots(): Promise<WorkerSnapshot[]>;
  /** Workers running now (a worker missing from one scrape is not taken for dead). */
  workerIds(): number[];
  restarts(): number;
  /** The stream slab pool (the primary's, or the single thread's). */
  slabs?: () => SlabPoolStats;
  /** The cross-node directory (cluster.redis), when configured. */
  crossNode?: () => RedisDirectoryStats;
}

export class ClusterMetrics {
  readonly registry = new Registry();
  /** The last snapshot of each running worker. */
  private readonly latest = new Map<number, WorkerSnapshot>();
  private answered = 0;
  /** Counters of workers that are gone, by family, then labels. */
  private readonly retired = new Map<string, Map<string, [Labels, number]>>();
  /** Latency of workers that are gone (their samples stay in the cluster's buckets). */
  private readonly retiredLatency = new Map<LatencyMetric, LatencyTotal>();
  private inflight: Promise<string> | undefined;

  constructor(private readonly source: MetricsSource) {
    for (const f of FAMILIES) {
      this.define(f.name, f.help, f.type, f.labelNames, () => this.total(f));
      this.define(perWorker(f.name), `${f.help}, per worker`, f.type, ['worker', ...f.labelNames], () =>
        [...this.latest.values()].flatMap((w) => f.read(w).map(([l, v]): [Labels, number] => [{ worker: String(w.worker), ...l }, v])),
      );
    }
    for (const f of LATENCY_FAMILIES) {
      new HdrBuckets(f.name, f.help, [], f.buckets, this.registry, () => {
        const all = newTotal();
        const retired = this.retiredLatency.get(f.metric);
        if (retired) addTotal(all, [retired.histogram], retired.sumUs);
        for (const w of this.latest.values()) addWorker(all, w, f.metric);
        return [[{}, all]];
      });
      new HdrBuckets(perWorker(f.name), `${f.help}, per worker`, ['worker'], f.buckets, this.registry, () =>
        [...this.latest.values()].map((w) => [{ worker: String(w.worker) }, addWorker(newTotal(), w, f.metric)]),
      );
    }
    const info = new Gauge({ name: 'sluice_build_info', help: 'Always 1; the labels name the sluice and Node.js versions running',
      labelNames: ['version', 'node'], registers: [this.registry] });
    info.set({ version: packageVersion(), node: process.versions.node }, 1);
    this.define('sluice_worker_restarts_total', 'Worker threads replaced after dying', 'counter', [], () => [[{}, source.restarts()]]);
    this.define('sluice_workers', 'Worker threads that answered this scrape', 'gauge', [], () => [[{}, this.answered]]);
    const slabs = source.slabs;
    if (slabs) {
      // Ended streams whose slab a worker still reads count as in use: the pool's own view, not the stream count.
      this.define('sluice_stream_slabs', 'Stream slabs (SharedArrayBuffer rings) of the pool, in use and kept free for reuse', 'gauge', ['state'], () => {
        const s = slabs();
        return [[{ state: 'in_use' }, s.inUse], [{ state: 'free' }, s.free]];
      });
      this.define('sluice_stream_slab_bytes', 'Size of one stream slab', 'gauge', [], () => [[{}, slabs().slabBytes]]);
    }
    const cross = source.crossNode;
    if (cross) this.defineCrossNode(cross);
    // process_* (CPU, RSS, fds) cover every thread; nodejs_* describe the primary's own thread.
    collectDefaultMetrics({ register: this.registry });
  }

  private defineCrossNode(read: () => RedisDirectoryStats): void {
    this.define('sluice_redis_up', 'Whether the cross-node stream directory (cluster.redis) is reachable', 'gauge', [], () => [[{}, read().up ? 1 : 0]]);
    this.define('sluice_redis_errors_total', 'Redis connection and command errors', 'counter', [], () => [[{}, read().errors]]);
    this.define('sluice_redis_held_streams', 'Stream names this node holds in Redis', 'gauge', [], () => [[{}, read().held]]);
    this.define('sluice_redis_claims_total', "Client publishes' cross-node claims: granted, taken (BadName: live on another node), unavailable (Redis down: granted locally)",
      'counter', ['result'], () => Object.entries(read().claims).map(([result, n]): [Labels, number] => [{ result }, n]));
    this.define('sluice_redis_lookups_total', 'Cross-node lookups of streams to pull: found, missing, unavailable (Redis down: edge.origins used)',
      'counter', ['result'], () => Object.entries(read().lookups).map(([result, n]): [Labels, number] => [{ result }, n]));
    this.define('sluice_redis_conflicts_total', 'Names found held by another node on refresh (both live during a Redis outage)', 'counter', [], () => [[{}, read().conflicts]]);
  }

  private define(name: string, help: string, type: Family['type'], labelNames: string[], read: () => Reading): void {
    const registers = [this.registry];
    if (type === 'counter') {
      new Counter({ name, help, labelNames, registers, collect() {
        this.reset();
        for (const [l, v] of read()) this.inc(l, v);
      } });
    } else {
      new Gauge({ name, help, labelNames, registers, collect() {
        this.reset();
        for (const [l, v] of read()) this.set(l, v);
      } });
    }
  }

  private total(f: Family): Reading {
    const sum = new Map<string, [Labels, number]>();
    if (f.type === 'counter') accumulate(sum, [...(this.retired.get(f.name)?.values() ?? [])]);
    for (const w of this.latest.values()) accumulate(sum, f.read(w));
    return [...sum.values()];
  }

  /** Text exposition from fresh snapshots; concurrent scrapes share one collection. */
  scrape(): Promise<string> {
    this.inflight ??= this.collect().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async collect(): Promise<string> {
    const snaps = await this.source.snapshots();
    for (const s of snaps) this.latest.set(s.worker, s);
    const running = new Set(this.source.workerIds());
    // A worker that answered and then died during the scrape is not one of the running ones.
    this.answered = snaps.filter((s) => running.has(s.worker)).length;
    for (const [id, w] of this.latest) if (!running.has(id)) this.retire(id, w);
    return this.registry.metrics();
  }

  private retire(id: number, w: WorkerSnapshot): void {
    this.latest.delete(id);
    for (const f of FAMILIES) {
      if (f.type !== 'counter') continue;
      let m = this.retired.get(f.name);
      if (!m) this.retired.set(f.name, (m = new Map()));
      accumulate(m, f.read(w));
    }
    for (const f of LATENCY_FAMILIES) {
      let t = this.retiredLatency.get(f.metric);
      if (!t) this.retiredLatency.set(f.metric, (t = newTotal()));
      addWorker(t, w, f.metric);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * /metrics: the primary's Prometheus registry (prom-client). Nothing is
 * counted in the primary: each scrape asks every worker for a fresh
 * snapshot and the collectors read it.
 *
 * Every worker figure comes twice: `sluice_<name>` is the cluster total and
 * `sluice_worker_<name>` the same per worker (label `worker`), as separate
 * families so that sum() over one never counts anything twice. A worker
 * that dies leaves its counts in the totals (a total that went back would
 * read as a counter reset). Latency is exposed as summaries whose
 * quantiles come from HdrHistograms merged across workers (exact, not an
 * average of per-worker quantiles). docs/operations.md lists the names.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, Summary } from 'prom-client';
import type { ClientProtocol } from '../cluster/messages.js';
import { LATENCY_METRICS, mergeLatency, type LatencyMetric, type LatencyWire, type MergedLatency } from '../app/latency.js';
import type { ProtocolTraffic, WorkerSnapshot } from './snapshot.js';

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
  { name: 'sluice_players_evicted_total', type: 'counter', labelNames: [], read: one((w) => w.counters.playersEvicted),
    help: 'Players disconnected for not reading (player.stallTimeoutMs)' },
  { name: 'sluice_session_errors_total', type: 'counter', labelNames: ['code'],
    read: (w) => Object.entries(w.counters.sessionErrors).map(([code, n]): [Labels, number] => [{ code }, n ?? 0]),
    help: 'Sessions ended by an error, by error code' },
  { name: 'sluice_handshake_failures_total', type: 'counter', labelNames: [], read: one((w) => w.counters.handshakeFailures),
    help: 'RTMP sessions that ended before completing the handshake' },
  { name: 'sluice_publishes_total', type: 'counter', labelNames: [], read: one((w) => w.counters.publishesTotal), help: 'Publishes started' },
];

export const LATENCY_FAMILIES: readonly { metric: LatencyMetric; name: string; help: string }[] = [
  { metric: 'ingestToEgress', name: 'sluice_ingest_to_egress_seconds', help: 'Delay from a tag arriving from its publisher to its handoff to a player socket' },
  { metric: 'firstFrame', name: 'sluice_first_frame_seconds', help: 'Time from a play request to the first media handed to the player' },
  { metric: 'handshake', name: 'sluice_handshake_seconds', help: 'RTMP handshake time, from TCP accept to handshake done' },
];

export const QUANTILES = [0.5, 0.9, 0.99, 0.999] as const;

const perWorker = (name: string): string => name.replace(/^sluice_/, 'sluice_worker_');
const key = (l: Labels): string => JSON.stringify(l);

function accumulate(into: Map<string, [Labels, number]>, reading: Reading): void {
  for (const [labels, v] of reading) {
    const have = into.get(key(labels));
    if (have) have[1] += v;
    else into.set(key(labels), [labels, v]);
  }
}

/** A summary whose quantiles, sum and count are computed elsewhere (merged HdrHistograms). */
class HdrSummary extends Summary<string> {
  constructor(
    private readonly family: string,
    help: string,
    labelNames: string[],
    registry: Registry,
    private readonly read: () => [Labels, MergedLatency][],
  ) {
    super({ name: family, help, labelNames, registers: [registry] });
  }

  override async get(): ReturnType<Summary<string>['get']> {
    const base = await super.get();
    const values: typeof base.values = [];
    for (const [labels, m] of this.read()) {
      for (const q of QUANTILES) values.push({ labels: { ...labels, quantile: q }, value: m.quantile(q) });
      values.push({ metricName: `${this.family}_sum`, labels, value: m.sumSeconds });
      values.push({ metricName: `${this.family}_count`, labels, value: m.count });
    }
    return { ...base, values };
  }
}

/** What the registry reads from the cluster. */
export interface MetricsSource {
  snapshots(): Promise<WorkerSnapshot[]>;
  /** Workers running now (a worker missing from one scrape is not taken for dead). */
  workerIds(): number[];
  restarts(): number;
}

export class ClusterMetrics {
  readonly registry = new Registry();
  /** The last snapshot of each running worker. */
  private readonly latest = new Map<number, WorkerSnapshot>();
  private answered = 0;
  /** Counters of workers that are gone, by family, then labels. */
  private readonly retired = new Map<string, Map<string, [Labels, number]>>();
  private readonly retiredLatency = new Map<LatencyMetric, LatencyWire>();
  private inflight: Promise<string> | undefined;

  constructor(private readonly source: MetricsSource) {
    for (const f of FAMILIES) {
      this.define(f.name, f.help, f.type, f.labelNames, () => this.total(f));
      this.define(perWorker(f.name), `${f.help}, per worker`, f.type, ['worker', ...f.labelNames], () =>
        [...this.latest.values()].flatMap((w) => f.read(w).map(([l, v]): [Labels, number] => [{ worker: String(w.worker), ...l }, v])),
      );
    }
    for (const f of LATENCY_FAMILIES) {
      new HdrSummary(f.name, `${f.help}; quantiles over the last 1-2 minutes`, [], this.registry, () => [
        [{}, mergeLatency([...this.latest.values()].map((w) => w.latency[f.metric]).concat(this.retiredLatency.get(f.metric) ?? []))],
      ]);
      new HdrSummary(perWorker(f.name), `${f.help}, per worker`, ['worker'], this.registry, () =>
        [...this.latest.values()].map((w) => [{ worker: String(w.worker) }, mergeLatency([w.latency[f.metric]])]),
      );
    }
    this.define('sluice_worker_restarts_total', 'Worker threads replaced after dying', 'counter', [], () => [[{}, source.restarts()]]);
    this.define('sluice_workers', 'Worker threads that answered this scrape', 'gauge', [], () => [[{}, this.answered]]);
    // process_* (CPU, RSS, fds) cover every thread; nodejs_* describe the primary's own thread.
    collectDefaultMetrics({ register: this.registry });
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
    this.answered = snaps.length;
    for (const s of snaps) this.latest.set(s.worker, s);
    const running = new Set(this.source.workerIds());
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
    for (const metric of LATENCY_METRICS) {
      const was = this.retiredLatency.get(metric) ?? { count: 0, sumUs: 0, window: [] };
      const add = w.latency[metric];
      this.retiredLatency.set(metric, { count: was.count + add.count, sumUs: was.sumUs + add.sumUs, window: [] });
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

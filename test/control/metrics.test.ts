/**
 * /metrics' latency families as Prometheus histograms, and sluice_build_info,
 * read by the strict exposition reader (test/helpers/prometheus.ts checks
 * every histogram's buckets): two workers with their own recorders, scraped
 * while they record, window turnovers included, and after one retires.
 */
import { SlabPool } from '../../src/core/slab-pool.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HdrLatencyRecorder, WINDOW_MS } from '../../src/app/latency.js';
import { newCounters } from '../../src/app/context.js';
import { packageVersion } from '../../src/app/version.js';
import { ClusterMetrics, LATENCY_FAMILIES } from '../../src/control/metrics.js';
import { NO_HLS, type ProtocolTraffic, type WorkerSnapshot } from '../../src/control/snapshot.js';
import { buckets, parseExposition, value, type MetricFamily } from '../helpers/prometheus.js';

const idle = (): ProtocolTraffic => ({ accepted: 0, open: 0, players: 0, bytesIn: 0, bytesOut: 0 });

/** A worker with no traffic but its latency recorder, snapshotted at `now` as workerSnapshot() would. */
function snapshotOf(worker: number, rec: HdrLatencyRecorder, now: number): WorkerSnapshot {
  const latency = rec.snapshot(now);
  return {
    worker,
    sessions: [],
    flvPlayers: [],
    counters: newCounters(),
    traffic: { rtmp: idle(), 'http-flv': idle(), 'ws-flv': idle() },
    publishers: 0,
    tagsDropped: 0,
    streams: [],
    latency,
    upstreams: [],
    upstreamTotals: { reconnects: 0, bytesIn: 0, bytesOut: 0 },
    hls: NO_HLS,
  };
}

/** Cumulative count of `ms` samples at or below each bound (seconds). */
const expected = (samplesMs: number[], bounds: readonly number[]): number[] => bounds.map((b) => samplesMs.filter((ms) => ms / 1000 <= b).length);

test('latency is exposed as histograms: cumulative buckets to +Inf, _sum and _count, per cluster and per worker', async () => {
  const recs = new Map([[1, new HdrLatencyRecorder()], [2, new HdrLatencyRecorder()]]);
  let running = [1, 2];
  let clock = Date.now();
  const metrics = new ClusterMetrics({
    snapshots: async () => running.map((w) => snapshotOf(w, recs.get(w)!, clock)),
    workerIds: () => running,
    restarts: () => 0,
  });
  // Whole milliseconds, as the ring stamps arrivals; 120 ms lands between buckets.
  const samples = { 1: [0, 1, 3, 40, 120, 700], 2: [2, 2, 9000, 25_000] } as Record<number, number[]>;
  for (const [w, list] of Object.entries(samples)) for (const ms of list) recs.get(Number(w))!.ingestToEgress(ms);
  const all = [...samples[1]!, ...samples[2]!];
  const bounds = LATENCY_FAMILIES.find((f) => f.metric === 'ingestToEgress')!.buckets;
  const name = 'sluice_ingest_to_egress_seconds';

  const check = (fams: Map<string, MetricFamily>, want: number[], workers: Record<string, number[]>): void => {
    assert.equal(fams.get(name)?.type, 'histogram');
    assert.deepEqual(buckets(fams, name), [...bounds.map((b, i): [number, number] => [b, expected(want, bounds)[i]!]), [Infinity, want.length]]);
    assert.equal(value(fams, `${name}_count`), want.length);
    assert.ok(Math.abs(value(fams, `${name}_sum`) - want.reduce((a, b) => a + b, 0) / 1000) < 1e-9, '_sum in seconds');
    for (const [w, list] of Object.entries(workers)) {
      assert.deepEqual(buckets(fams, `sluice_worker_${name.slice('sluice_'.length)}`, { worker: w }).at(-1), [Infinity, list.length]);
    }
  };
  const first = parseExposition(await metrics.scrape());
  check(first, all, { 1: samples[1]!, 2: samples[2]! });
  for (const f of LATENCY_FAMILIES) assert.equal(first.get(f.name)?.type, 'histogram', f.name);

  // Two window turnovers later the buckets still hold every sample.
  clock += 2.5 * WINDOW_MS;
  await metrics.scrape();
  clock += WINDOW_MS;
  recs.get(2)!.ingestToEgress(5);
  const later = parseExposition(await metrics.scrape());
  check(later, [...all, 5], { 1: samples[1]!, 2: [...samples[2]!, 5] });

  // Worker 2 dies: its series go, its samples stay in the cluster's buckets.
  running = [1];
  const retired = parseExposition(await metrics.scrape());
  check(retired, [...all, 5], { 1: samples[1]! });
  assert.equal(buckets(retired, 'sluice_worker_ingest_to_egress_seconds', { worker: '2' }).length, 0);
});

test('sluice_build_info names the version running', async () => {
  const metrics = new ClusterMetrics({ snapshots: async () => [], workerIds: () => [], restarts: () => 0 });
  const fams = parseExposition(await metrics.scrape());
  assert.equal(fams.get('sluice_build_info')?.type, 'gauge');
  assert.equal(value(fams, 'sluice_build_info', { version: packageVersion(), node: process.versions.node }), 1);
});

test('sluice_stream_slabs: the slab pool, in use and free', async () => {
  const pool = new SlabPool(64 * 1024, 4, 2);
  const metrics = new ClusterMetrics({ snapshots: async () => [], workerIds: () => [], restarts: () => 0, slabs: () => pool.stats() });
  const a = pool.acquire();
  pool.acquire();
  let fams = parseExposition(await metrics.scrape());
  assert.equal(value(fams, 'sluice_stream_slabs', { state: 'in_use' }), 2);
  assert.equal(value(fams, 'sluice_stream_slabs', { state: 'free' }), 0);
  assert.equal(value(fams, 'sluice_stream_slab_bytes'), 64 * 1024);
  pool.release(a);
  fams = parseExposition(await metrics.scrape());
  assert.equal(value(fams, 'sluice_stream_slabs', { state: 'in_use' }), 1);
  assert.equal(value(fams, 'sluice_stream_slabs', { state: 'free' }), 1);
});

/**
 * The latency histograms behind /metrics' buckets: every sample a
 * worker recorded since it started, whatever the sliding window of
 * app/latency.ts turned over in between, and the `le` reading of
 * core/hdr.ts countsAtOrBelow().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HdrLatencyRecorder, WINDOW_MS } from '../../src/app/latency.js';
import { allSamples, newLatencyHistogram, type LatencyWire } from '../../src/app/latency.js';
import { buildHistogram, countsAtOrBelow, mergeHistograms, recordMs } from '../../src/core/hdr.js';

const everySample = (w: LatencyWire) => mergeHistograms(newLatencyHistogram(), allSamples(w));

/** Every 50 µs up to 20 ms, then coarser: enough bounds to see any sample misplaced. */
const FINE_BOUNDS_US = [...Array.from({ length: 400 }, (_, i) => (i + 1) * 50), 50_000, 1_000_000, 20_000_000];

test('countsAtOrBelow: cumulative counts at or below each bound; a value on a bound counts in it', () => {
  const h = buildHistogram(10_000_000);
  for (const us of [0, 500, 1000, 1000, 1001, 2500, 9_000_000, 30_000_000]) h.recordValue(us);
  //                              ≤1000 µs   ≤2500 µs  ≤10 s
  assert.deepEqual(countsAtOrBelow(h, [1000, 2500, 10_000_000]), [4, 6, 7], 'the value past every bound is in none');
  assert.deepEqual(countsAtOrBelow(buildHistogram(1000), [1, 2]), [0, 0], 'empty');
});

test('retired windows plus the window keep every sample across window turnovers, none twice', () => {
  const rec = new HdrLatencyRecorder();
  const t0 = Date.now();
  const all: number[] = [];
  let next = 0.3;
  const record = (n: number): void => {
    for (let i = 0; i < n; i++) {
      rec.handshake(next);
      all.push(next);
      next = (next * 1.37) % 19; // spread over 0..19 ms
    }
  };
  // [samples recorded, then a snapshot at t0 + windows * WINDOW_MS]: turns that drop an empty
  // previous window, a full one, one with no new samples, and two in a row.
  const steps: [number, number][] = [[5, 0], [3, 1], [2, 1.5], [4, 2], [0, 3], [1, 3.2], [2, 4], [1, 5], [0, 5.1], [6, 6], [3, 7]];
  for (const [n, windows] of steps) {
    record(n);
    const snap = rec.snapshot(t0 + windows * WINDOW_MS);
    const total = everySample(snap.handshake);
    const ref = buildHistogram(10_000_000);
    for (const ms of all) recordMs(ref, ms);
    assert.equal(total.totalCount, all.length, `after ${all.length} samples (t0 + ${windows} windows)`);
    assert.equal(total.totalCount, snap.handshake.count);
    assert.deepEqual(countsAtOrBelow(total, FINE_BOUNDS_US), countsAtOrBelow(ref, FINE_BOUNDS_US), `distribution after ${all.length} samples`);
  }
  const other = rec.snapshot(t0 + 7 * WINDOW_MS);
  assert.equal(everySample(other.firstFrame).totalCount, 0, 'metrics are kept apart');
  assert.equal(everySample(new HdrLatencyRecorder().snapshot().handshake).totalCount, 0,
    'a new recorder (a new worker) starts from nothing');
});

test('whole-ms samples counted in the array land in the histograms as if recorded one by one (window, retired, sum)', () => {
  const rec = new HdrLatencyRecorder();
  const t0 = Date.now();
  const all: number[] = [];
  const ref = buildHistogram(10_000_000);
  let x = 7;
  for (let windows = 0; windows <= 4; windows++) {
    for (let i = 0; i < 3000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      // Mostly whole ms under the array's reach, some past it, some fractional, some negative (a clock step).
      const ms = i % 50 === 0 ? -3 : i % 7 === 0 ? (x % 5000) / 7 : i % 11 === 0 ? 1024 + (x % 3000) : x % 1024;
      rec.ingestToEgress(ms);
      recordMs(ref, ms);
      all.push(ms);
    }
    const snap = rec.snapshot(t0 + windows * WINDOW_MS).ingestToEgress;
    assert.equal(snap.count, all.length);
    assert.equal(snap.sumUs, all.reduce((n, ms) => n + (ms > 0 ? Math.round(ms * 1000) : 0), 0), 'sum of µs');
    const total = everySample(snap);
    assert.equal(total.totalCount, all.length);
    assert.deepEqual(countsAtOrBelow(total, [...FINE_BOUNDS_US, 1_023_000, 1_024_000, 3_000_000]),
      countsAtOrBelow(ref, [...FINE_BOUNDS_US, 1_023_000, 1_024_000, 3_000_000]), `distribution after ${windows} turnovers`);
  }
});

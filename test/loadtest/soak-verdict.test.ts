// The soak's verdict (loadtest/soak/verdict.ts) on made-up series: a
// 3-minute run sampled every 5 s — 3 baseline samples, 150 s of churn
// (warm-up 30 s), 30 s quiet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, median, slope, warmupSeconds, type Point, type SeriesRule } from '../../loadtest/soak/verdict.js';
import type { SeriesValues } from '../../loadtest/soak/types.js';

const WINDOW = { churnStartS: 3, churnEndS: 153 };
const RSS: SeriesRule = { series: 'rssMb', abs: 24, rel: 0.1, slopePerHour: 60 };
const FDS: SeriesRule = { series: 'fds', abs: 12, rel: 0.2, slopePerHour: 30, quiet: { abs: 4, rel: 0.05 } };

/** Noise in [-amp, amp], the same every run. */
function noise(i: number, amp: number): number {
  return amp * Math.sin(i * 12.9898 + 78.233) * Math.cos(i * 4.1414);
}

/** Baseline at t 0..2, churn every 5 s, quiet every 5 s; `churn(t, i)` and `quiet(t, i)` give the values. */
function run(churn: (t: number, i: number) => SeriesValues, quiet: (t: number, i: number) => SeriesValues, baseline: SeriesValues): Point[] {
  const points: Point[] = [0, 1, 2].map((t) => ({ t, phase: 'baseline', values: baseline }));
  let i = 0;
  for (let t = 5; t <= 153; t += 5) points.push({ t, phase: 'churn', values: churn(t, i++) });
  for (let t = 158; t <= 183; t += 5) points.push({ t, phase: 'quiet', values: quiet(t, i++) });
  return points;
}

test('warm-up: 30 s or 20 % of the churn, at most half of it', () => {
  assert.equal(warmupSeconds({ churnStartS: 0, churnEndS: 150 }), 30);
  assert.equal(warmupSeconds({ churnStartS: 0, churnEndS: 600 }), 120);
  assert.equal(warmupSeconds({ churnStartS: 0, churnEndS: 40 }), 20);
});

test('median and least-squares slope', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(slope([0, 1, 2, 3], [1, 3, 5, 7]), 2);
  assert.equal(slope([1, 1], [1, 5]), 0);
});

test('a flat, noisy series passes', () => {
  const points = run((_, i) => ({ rssMb: 120 + noise(i, 8), fds: 60 + Math.round(noise(i, 10)) }), () => ({ rssMb: 118, fds: 41 }), { rssMb: 90, fds: 40 });
  const v = judge(points, WINDOW, [RSS, FDS]);
  assert.deepEqual(v.failures, []);
  assert.equal(v.ok, true);
  const rss = v.series.find((s) => s.series === 'rssMb')!;
  assert.equal(rss.growth.judged, true);
  assert.equal(rss.growth.grows, false);
  assert.equal(v.series.find((s) => s.series === 'fds')!.quiet?.ok, true);
});

test('a linearly growing series fails', () => {
  // 100 MB → 250 MB over the churn: 3.6 GB/h.
  const points = run((t, i) => ({ rssMb: 100 + t + noise(i, 8) }), () => ({ rssMb: 250 }), { rssMb: 90 });
  const v = judge(points, WINDOW, [RSS]);
  assert.equal(v.ok, false);
  const rss = v.series[0]!;
  assert.equal(rss.growth.grows, true);
  assert.ok(rss.growth.slopePerHour! > 3000, `slope ${rss.growth.slopePerHour}`);
  assert.match(v.failures[0]!, /^rssMb grows/);
});

test('a spike that comes back passes, in the middle or in the last third', () => {
  for (const at of [80, 130]) {
    const points = run((t, i) => ({ rssMb: (Math.abs(t - at) <= 5 ? 300 : 120) + noise(i, 6) }), () => ({ rssMb: 120 }), { rssMb: 90 });
    const v = judge(points, WINDOW, [RSS]);
    assert.deepEqual(v.failures, [], `spike at t=${at}`);
    assert.equal(v.series[0]!.growth.judged, true);
  }
});

test('growth too small for its tolerance passes (a step of a few MB)', () => {
  const points = run((t, i) => ({ rssMb: 120 + (t > 100 ? 10 : 0) + noise(i, 3) }), () => ({ rssMb: 130 }), { rssMb: 90 });
  assert.equal(judge(points, WINDOW, [RSS]).ok, true);
});

test('handles that do not return to baseline fail', () => {
  // Flat during the churn (no growth), but 30 fds more than at rest once every client is gone.
  const points = run((_, i) => ({ fds: 90 + Math.round(noise(i, 10)) }), () => ({ fds: 70 }), { fds: 40 });
  const v = judge(points, WINDOW, [FDS]);
  assert.equal(v.ok, false);
  const fds = v.series[0]!;
  assert.equal(fds.growth.grows, false);
  assert.deepEqual({ ok: fds.quiet?.ok, baseline: fds.quiet?.baseline, end: fds.quiet?.end, limit: fds.quiet?.limit }, { ok: false, baseline: 40, end: 70, limit: 44 });
  assert.match(v.failures[0]!, /^fds did not return to baseline/);
});

test('handles that come back late in the quiet period pass (the last quiet sample counts)', () => {
  const points = run(() => ({ fds: 90 }), (t) => ({ fds: t < 170 ? 75 : 42 }), { fds: 40 });
  assert.equal(judge(points, WINDOW, [FDS]).ok, true);
});

test('too few samples after the warm-up: growth not judged, and not failed', () => {
  const points: Point[] = [
    { t: 0, phase: 'baseline', values: { rssMb: 90 } },
    ...[5, 10, 15, 20, 25, 30, 35, 40].map((t): Point => ({ t, phase: 'churn', values: { rssMb: 100 + 10 * t } })),
  ];
  const v = judge(points, { churnStartS: 0, churnEndS: 40 }, [RSS]);
  assert.equal(v.ok, true);
  assert.equal(v.series[0]!.growth.judged, false);
  assert.match(v.series[0]!.growth.why!, /need 9/);
});

test('missing values (a failed scrape) are skipped', () => {
  const points = run((t, i) => (i % 4 === 0 ? {} : { rssMb: 120 + noise(i, 5) }), () => ({}), { rssMb: 90 });
  const v = judge(points, WINDOW, [RSS]);
  assert.equal(v.ok, true);
  assert.equal(v.series[0]!.growth.judged, true);
});

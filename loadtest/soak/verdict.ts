/**
 * The soak's verdict: does any series grow without bound? A pure function
 * of the samples, so it is tested on made-up series
 * (test/loadtest/soak-verdict.test.ts).
 *
 * The machine is shared and noisy, and V8 and the allocator hold memory in
 * steps, so one high sample proves nothing. Two tests per series:
 *
 * 1. Growth during the churn, after a warm-up (the larger of 30 s and the
 *    first 20 % of the churn, but at most half of it: heaps, pools and
 *    socket buffers fill first). The post-warm-up samples are cut into
 *    thirds. The series GROWS only if all three hold:
 *      - peak:  max(last third)    > max(middle third)    + tol
 *      - level: median(last third) > median(middle third) + tol
 *      - slope: the least-squares slope over all post-warm-up samples,
 *               per hour, exceeds the series' limit
 *    with tol = max(abs, rel × median(middle third)), per series. A spike
 *    that comes back fails the level test (medians ignore it); a spike in
 *    the middle fails the peak test; steady growth passes all three. Needs
 *    3 samples per third; with fewer the test is reported "not judged"
 *    (a short run cannot tell a slow leak from noise) and does not fail.
 * 2. Return to baseline: after the churn, all clients are closed and the
 *    server is left alone (the quiet period). The last quiet sample must be
 *    within max(abs, rel × baseline) of the baseline, the median of the
 *    samples before any client connected. Applies to handles, connections,
 *    players, publishers, streams, slab-holding streams and clients — not
 *    to RSS or heap, which a runtime does not give back on cue.
 */
import type { Phase, SeriesName, SeriesValues } from './types.js';

export interface SeriesRule {
  series: SeriesName;
  /** Growth tolerance: max(abs, rel × median of the middle third). */
  abs: number;
  rel: number;
  /** Units per hour the least-squares slope must exceed to count as growth. */
  slopePerHour: number;
  /** Return-to-baseline tolerance; absent: not checked. */
  quiet?: { abs: number; rel: number };
}

/** Per-series thresholds of the soak (README: loadtest/README.md, "Soak"). */
export const RULES: readonly SeriesRule[] = [
  { series: 'rssMb', abs: 24, rel: 0.1, slopePerHour: 60 },
  { series: 'heapMb', abs: 8, rel: 0.25, slopePerHour: 20 },
  { series: 'fds', abs: 12, rel: 0.2, slopePerHour: 30, quiet: { abs: 4, rel: 0.05 } },
  { series: 'threads', abs: 2, rel: 0, slopePerHour: 10 },
  { series: 'connections', abs: 12, rel: 0.3, slopePerHour: 30, quiet: { abs: 0, rel: 0 } },
  { series: 'players', abs: 12, rel: 0.3, slopePerHour: 30, quiet: { abs: 0, rel: 0 } },
  { series: 'publishers', abs: 3, rel: 0, slopePerHour: 10, quiet: { abs: 0, rel: 0 } },
  { series: 'streams', abs: 3, rel: 0, slopePerHour: 10, quiet: { abs: 0, rel: 0 } },
  { series: 'slabStreams', abs: 3, rel: 0, slopePerHour: 10, quiet: { abs: 0, rel: 0 } },
  { series: 'slabsInUse', abs: 3, rel: 0, slopePerHour: 10, quiet: { abs: 0, rel: 0 } },
  { series: 'clients', abs: 12, rel: 0.3, slopePerHour: 30, quiet: { abs: 0, rel: 0 } },
];

export interface Point {
  t: number;
  phase: Phase;
  values: SeriesValues;
}

export interface Window {
  churnStartS: number;
  churnEndS: number;
}

export interface GrowthResult {
  judged: boolean;
  /** Why not judged. */
  why?: string;
  grows: boolean;
  middleMax?: number;
  lastMax?: number;
  middleMedian?: number;
  lastMedian?: number;
  tolerance?: number;
  slopePerHour?: number;
}

export interface QuietResult {
  judged: boolean;
  ok: boolean;
  baseline?: number;
  end?: number;
  limit?: number;
}

export interface SeriesVerdict {
  series: SeriesName;
  ok: boolean;
  baseline?: number;
  min?: number;
  max?: number;
  /** Last churn sample. */
  churnEnd?: number;
  growth: GrowthResult;
  quiet?: QuietResult;
}

export interface Verdict {
  ok: boolean;
  warmupS: number;
  /** Growth is judged on churn samples from this time on. */
  judgedFromS: number;
  series: SeriesVerdict[];
  /** One line per failed test. */
  failures: string[];
}

export const MIN_PER_THIRD = 3;

export function warmupSeconds(w: Window): number {
  const churn = Math.max(0, w.churnEndS - w.churnStartS);
  return Math.min(Math.max(30, 0.2 * churn), 0.5 * churn);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Least-squares slope of y over t (units per unit of t); 0 with fewer than 2 distinct t. */
export function slope(ts: readonly number[], ys: readonly number[]): number {
  const n = ts.length;
  const mt = ts.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (ts[i]! - mt) * (ys[i]! - my);
    den += (ts[i]! - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function growth(points: { t: number; v: number }[], rule: SeriesRule): GrowthResult {
  const n = points.length;
  if (n < 3 * MIN_PER_THIRD) return { judged: false, why: `${n} samples after warm-up, need ${3 * MIN_PER_THIRD}`, grows: false };
  const middle = points.slice(Math.round(n / 3), Math.round((2 * n) / 3)).map((p) => p.v);
  const last = points.slice(Math.round((2 * n) / 3)).map((p) => p.v);
  const middleMax = Math.max(...middle);
  const lastMax = Math.max(...last);
  const middleMedian = median(middle);
  const lastMedian = median(last);
  const tolerance = Math.max(rule.abs, rule.rel * Math.abs(middleMedian));
  const slopePerHour = slope(points.map((p) => p.t / 3600), points.map((p) => p.v));
  const grows = lastMax > middleMax + tolerance && lastMedian > middleMedian + tolerance && slopePerHour > rule.slopePerHour;
  return { judged: true, grows, middleMax, lastMax, middleMedian, lastMedian, tolerance, slopePerHour };
}

function quiet(baselineValues: number[], quietValues: number[], tol: { abs: number; rel: number }): QuietResult {
  if (baselineValues.length === 0 || quietValues.length === 0) return { judged: false, ok: true };
  const baseline = median(baselineValues);
  const end = quietValues[quietValues.length - 1]!;
  const limit = baseline + Math.max(tol.abs, tol.rel * baseline);
  return { judged: true, ok: end <= limit, baseline, end, limit };
}

export function judge(samples: readonly Point[], window: Window, rules: readonly SeriesRule[] = RULES): Verdict {
  const warmupS = warmupSeconds(window);
  const judgedFromS = window.churnStartS + warmupS;
  const failures: string[] = [];
  const series = rules.map((rule): SeriesVerdict => {
    const of = (keep: (p: Point) => boolean): { t: number; v: number }[] =>
      samples.flatMap((p) => {
        const v = p.values[rule.series];
        return keep(p) && v !== undefined && Number.isFinite(v) ? [{ t: p.t, v }] : [];
      });
    const all = of(() => true);
    const baselineValues = of((p) => p.phase === 'baseline').map((p) => p.v);
    const churn = of((p) => p.phase === 'churn');
    const g = growth(churn.filter((p) => p.t >= judgedFromS), rule);
    const q = rule.quiet ? quiet(baselineValues, of((p) => p.phase === 'quiet').map((p) => p.v), rule.quiet) : undefined;
    if (g.grows) {
      failures.push(
        `${rule.series} grows: last third max ${fmt(g.lastMax)} / median ${fmt(g.lastMedian)} vs middle third max ${fmt(g.middleMax)} / median ${fmt(g.middleMedian)} (tolerance ${fmt(g.tolerance)}), slope ${fmt(g.slopePerHour)}/h > ${rule.slopePerHour}/h`,
      );
    }
    if (q && !q.ok) failures.push(`${rule.series} did not return to baseline: ${fmt(q.end)} at the end of the quiet period, baseline ${fmt(q.baseline)}, limit ${fmt(q.limit)}`);
    return {
      series: rule.series,
      ok: !g.grows && (q?.ok ?? true),
      baseline: baselineValues.length > 0 ? median(baselineValues) : undefined,
      min: all.length > 0 ? Math.min(...all.map((p) => p.v)) : undefined,
      max: all.length > 0 ? Math.max(...all.map((p) => p.v)) : undefined,
      churnEnd: churn.at(-1)?.v,
      growth: g,
      ...(q ? { quiet: q } : {}),
    };
  });
  return { ok: failures.length === 0, warmupS, judgedFromS, series, failures };
}

function fmt(v: number | undefined): string {
  if (v === undefined) return '-';
  return Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1);
}

// Histograms (loadtest/histograms.ts): the compressed base64 round trip
// the threads use, the merge on the main thread, and the .hgrm text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeHistogram,
  encodeHistogram,
  hgrmText,
  mergeHistograms,
  newHistogram,
  percentilePoints,
  recordMs,
  summarize,
} from '../../loadtest/histograms.js';

/** Deterministic latencies in ms: mostly 1-5, a tail to 300. */
function samples(n: number, seed: number): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const u = x / 2 ** 31;
    out.push(u < 0.98 ? 1 + u * 4 : 5 + (u - 0.98) * 15000);
  }
  return out;
}

/** The same value at HdrHistogram's 3 significant digits (a decoded max is its bucket's top). */
function assertEquivalent(a: number, b: number): void {
  assert.ok(Math.abs(a - b) <= Math.max(a, b) * 0.001, `${a} ~ ${b}`);
}

test('encode → decode keeps every count', () => {
  const h = newHistogram();
  for (const v of samples(5000, 1)) recordMs(h, v);
  const back = decodeHistogram(encodeHistogram(h));
  assert.equal(back.totalCount, 5000);
  for (const p of [0, 50, 90, 99, 99.9, 100]) assert.equal(back.getValueAtPercentile(p), h.getValueAtPercentile(p), `p${p}`);
  assertEquivalent(back.maxValue, h.maxValue);
});

test('merging per-thread histograms equals recording everything in one', () => {
  const parts = [samples(3000, 1), samples(2000, 2), samples(10, 3), []];
  const all = newHistogram();
  const encoded = parts.map((vs) => {
    const h = newHistogram();
    for (const v of vs) {
      recordMs(h, v);
      recordMs(all, v);
    }
    return encodeHistogram(h);
  });
  const merged = mergeHistograms(encoded);
  assert.equal(merged.totalCount, 5010);
  for (const p of [0, 25, 50, 90, 99, 99.9, 99.99, 100]) assert.equal(merged.getValueAtPercentile(p), all.getValueAtPercentile(p), `p${p}`);
  assertEquivalent(merged.maxValue, all.maxValue);
  assert.equal(mergeHistograms([]).totalCount, 0);
});

test('recordMs stores microseconds and clamps negatives; summarize reports ms', () => {
  const h = newHistogram();
  recordMs(h, 1.5);
  recordMs(h, -3);
  const s = summarize(h);
  assert.equal(s.count, 2);
  assert.equal(s.max, 1.5);
  assert.equal(s.min, 1.5, 'min is the smallest non-zero value');
  assert.equal(summarize(newHistogram()).count, 0);
});

interface HgrmRow {
  value: number;
  percentile: number;
  totalCount: number;
  inverse: number | undefined;
}

/** Parses HdrHistogram's percentile distribution text back. */
function parseHgrm(text: string): { rows: HgrmRow[]; mean: number; max: number; total: number } {
  const lines = text.split('\n');
  assert.match(lines[0]!, /^\s+Value\s+Percentile\s+TotalCount\s+1\/\(1-Percentile\)$/);
  const rows: HgrmRow[] = [];
  for (const line of lines.slice(1)) {
    const m = /^\s+([\d.]+)\s+([\d.]+)\s+(\d+)(?:\s+([\d.]+|Infinity))?$/.exec(line);
    if (m) rows.push({ value: Number(m[1]), percentile: Number(m[2]), totalCount: Number(m[3]), inverse: m[4] === undefined ? undefined : Number(m[4]) });
  }
  const mean = /#\[Mean\s+=\s+([\d.]+), StdDeviation\s+=\s+([\d.]+)\]/.exec(text);
  const max = /#\[Max\s+=\s+([\d.]+), Total count\s+=\s+(\d+)\]/.exec(text);
  assert.ok(mean && max, 'footer');
  assert.match(text, /#\[Buckets\s+=\s+\d+, SubBuckets\s+=\s+\d+\]/);
  return { rows, mean: Number(mean[1]), max: Number(max[1]), total: Number(max[2]) };
}

test('.hgrm: HdrHistogram percentile distribution, monotonic, counts right', () => {
  const h = newHistogram();
  const vs = samples(10000, 7);
  for (const v of vs) recordMs(h, v);
  const { rows, mean, max, total } = parseHgrm(hgrmText(h));
  assert.ok(rows.length > 20);
  assert.equal(rows[0]!.percentile, 0);
  assert.equal(rows[rows.length - 1]!.percentile, 1);
  for (let i = 1; i < rows.length; i++) {
    const [a, b] = [rows[i - 1]!, rows[i]!];
    assert.ok(b.percentile >= a.percentile, `percentile row ${i}`);
    assert.ok(b.value >= a.value, `value row ${i}`);
    assert.ok(b.totalCount >= a.totalCount, `count row ${i}`);
    if (b.inverse !== undefined) assert.ok(Math.abs(b.inverse - 1 / (1 - b.percentile)) < 0.01 * b.inverse, `1/(1-p) row ${i}`);
  }
  assert.equal(rows[rows.length - 1]!.totalCount, 10000, 'last row counts everything');
  assert.equal(total, 10000);
  // Values are ms at HdrHistogram's 3 significant digits.
  const trueMax = Math.max(...vs);
  assert.ok(Math.abs(max - trueMax) <= trueMax * 0.001 + 0.001, `max ${max} vs ${trueMax}`);
  const trueMean = vs.reduce((a, b) => a + b, 0) / vs.length;
  assert.ok(Math.abs(mean - trueMean) <= trueMean * 0.002, `mean ${mean} vs ${trueMean}`);
  // The row at p = 0.5 counts half the values, and they are the ones at or below its value.
  const p50 = rows.find((r) => r.percentile === 0.5)!;
  assert.ok(Math.abs(p50.totalCount - 5000) <= 20, `p50 count ${p50.totalCount}`);
  const below = vs.filter((v) => v <= p50.value * 1.001).length;
  assert.ok(Math.abs(below - p50.totalCount) <= 10, `${below} values <= ${p50.value} ms`);
});

test('plot points: x = 1/(1-p) rising to the count, y never falling, ending at the max', () => {
  const h = newHistogram();
  for (const v of samples(1000, 9)) recordMs(h, v);
  const pts = percentilePoints(h);
  assert.equal(pts[0]!.inverse, 1);
  for (let i = 1; i < pts.length; i++) {
    assert.ok(pts[i]!.inverse >= pts[i - 1]!.inverse);
    assert.ok(pts[i]!.ms >= pts[i - 1]!.ms);
  }
  assert.equal(pts[pts.length - 1]!.ms, h.getValueAtPercentile(100) / 1000);
  assert.ok(pts[pts.length - 1]!.inverse >= 1000);
  assert.deepEqual(percentilePoints(newHistogram()), []);
});

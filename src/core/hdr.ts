/**
 * HdrHistogram primitives shared by the server's latency metrics and the
 * load generator: values recorded in microseconds (a duration given in ms),
 * shipped between threads as HdrHistogram's V2 compressed base64 (what
 * every HdrHistogram port reads), merged by adding bucket counts.
 */
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

export type { Histogram };

/**
 * 1 µs .. `highestUs` at 3 significant digits. 64-bit counts: a per-tag
 * metric on a busy worker would overflow 32-bit buckets within a day.
 * autoResize keeps a pathological value from throwing.
 */
export function buildHistogram(highestUs: number): Histogram {
  return hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, highestTrackableValue: highestUs, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** Records a duration in ms as µs; a negative one (a clock step) counts as 0. Returns the µs recorded. */
export function recordMs(h: Histogram, ms: number): number {
  const us = ms > 0 ? Math.round(ms * 1000) : 0;
  h.recordValue(us);
  return us;
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(b64: string): Histogram {
  return hdr.decodeFromCompressedBase64(b64, 64, false);
}

/** Adds every count of `parts` (encoded or decoded) into `into`; returns it. */
export function mergeHistograms(into: Histogram, parts: Iterable<string | Histogram>): Histogram {
  for (const p of parts) {
    const h = typeof p === 'string' ? decodeHistogram(p) : p;
    if (h.totalCount > 0) into.add(h);
  }
  return into;
}

/**
 * Cumulative counts at each of `bounds` (ascending, in the histogram's
 * unit): element i counts the values at or below bounds[i], as Prometheus
 * `le` buckets do. To the histogram's resolution: a value counts as at or
 * below a bound when its equivalence range starts there or lower, the
 * reading of HdrHistogram's own count-between-values.
 */
export function countsAtOrBelow(h: Histogram, bounds: readonly number[]): number[] {
  if (!(h instanceof hdr.JsHistogram)) throw new TypeError('countsAtOrBelow: needs a JS (not WebAssembly) histogram');
  const out = bounds.map(() => 0);
  const it = h.recordedValuesIterator;
  it.reset();
  while (it.hasNext()) {
    const v = it.next();
    const low = h.lowestEquivalentValue(v.valueIteratedTo);
    const i = bounds.findIndex((b) => low <= b);
    if (i >= 0) out[i]! += v.countAtValueIteratedTo;
  }
  for (let i = 1; i < out.length; i++) out[i]! += out[i - 1]!;
  return out;
}

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

/**
 * Latency histograms (HdrHistogram): values are recorded in microseconds
 * and reported in milliseconds. Threads ship them as HdrHistogram's
 * compressed base64 (the V2 encoding every HdrHistogram port reads); the
 * main thread decodes and adds them up.
 */
import { buildHistogram, mergeHistograms as mergeInto, type Histogram } from '../src/core/hdr.js';

export { decodeHistogram, encodeHistogram, recordMs, type Histogram } from '../src/core/hdr.js';

/** Histograms a run keeps (names are also the .hgrm file names). */
export const HISTOGRAMS = {
  latency: 'video frames: receive time - scheduled send time (from the marker)',
  'audio-latency': 'audio frames: receive time - scheduled send time',
  ttff: 'players: time to first video frame, from the start of the TCP connect',
  connect: 'players: TCP connect + handshake until play could be requested (RTMP connect _result, HTTP response headers, WebSocket open)',
  'send-lag': 'publishers: actual send time - scheduled send time (the generator falling behind)',
} as const;
export type HistogramName = keyof typeof HISTOGRAMS;

/** The player histograms that are also kept per play protocol (summary.json latencyByProtocol, NAME.PROTOCOL.hgrm). */
export const PLAYER_HISTOGRAMS = ['latency', 'audio-latency', 'ttff', 'connect'] as const satisfies readonly HistogramName[];
export type PlayerHistogramName = (typeof PLAYER_HISTOGRAMS)[number];

const US_PER_MS = 1000;

/** 1 µs .. 1 h: a run's latencies, however bad. */
export function newHistogram(): Histogram {
  return buildHistogram(3_600_000_000);
}

/** One histogram holding every count of `parts` (base64 or decoded). */
export function mergeHistograms(parts: Iterable<string | Histogram>): Histogram {
  return mergeInto(newHistogram(), parts);
}

/**
 * HdrHistogram's percentile distribution text (outputPercentileDistribution,
 * 5 ticks per half distance, values in ms): the columns Value, Percentile,
 * TotalCount, 1/(1-Percentile) and the #[Mean…], #[Max…] footer that
 * HdrHistogram's plotter and tools read.
 */
export function hgrmText(h: Histogram): string {
  return h.outputPercentileDistribution(5, US_PER_MS);
}

export interface LatencySummary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/** Count and percentiles in ms. */
export function summarize(h: Histogram): LatencySummary {
  const ms = (us: number): number => round3(us / US_PER_MS);
  if (h.totalCount === 0) return { count: 0, min: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    count: h.totalCount,
    min: ms(h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

/**
 * Points of the percentile-distribution plot: percentile p (0..100) at
 * 1 - 2^(-k/5), k = 0, 1, ... until 1/(1-p) passes the count, and the max.
 * `inverse` is 1/(1-p), the plot's log-scale x.
 */
export function percentilePoints(h: Histogram): { percentile: number; inverse: number; ms: number }[] {
  const out: { percentile: number; inverse: number; ms: number }[] = [];
  if (h.totalCount === 0) return out;
  for (let k = 0; ; k++) {
    const tail = 2 ** (-k / 5);
    const inverse = 1 / tail;
    if (inverse > h.totalCount) break;
    const percentile = 100 * (1 - tail);
    out.push({ percentile, inverse, ms: h.getValueAtPercentile(percentile) / US_PER_MS });
  }
  out.push({ percentile: 100, inverse: Math.max(h.totalCount, out[out.length - 1]?.inverse ?? 1), ms: h.getValueAtPercentile(100) / US_PER_MS });
  return out;
}

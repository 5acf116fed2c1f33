/**
 * Latency histograms (HdrHistogram): each worker records into its own, the
 * primary merges them exactly (bucket counts add) for /metrics.
 *
 * Values are kept in microseconds with 3 significant digits, so a
 * sub-millisecond handshake still shows. Quantiles cover a sliding window:
 * two histograms, `current` and `previous`, turned over when a snapshot
 * finds `current` older than WINDOW_MS, so they describe the last one to
 * two minutes (a snapshot per scrape; a long gap between scrapes widens the
 * window to the gap). A window that falls out is added to `retired`, so
 * retired + window is every sample since the worker started: the running
 * counts Prometheus histogram buckets need, at no cost per sample.
 */
import { buildHistogram, encodeHistogram, mergeHistograms, recordMs, type Histogram } from '../core/hdr.js';
import type { LatencyRecorder } from '../media/types.js';

export const LATENCY_METRICS = ['ingestToEgress', 'firstFrame', 'handshake', 'pullStart', 'hlsBuild'] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];

/** Quantile window: a snapshot reports between one and two of these. */
export const WINDOW_MS = 60_000;

/** One latency metric as a worker sends it (inside the msgpackr snapshot). */
export interface LatencyWire {
  /** Samples since the worker started. */
  count: number;
  /** Their sum, in microseconds. */
  sumUs: number;
  /** The window's non-empty histograms, HdrHistogram V2 compressed base64 (interoperable with other HdrHistogram ports). */
  window: string[];
  /** Every sample older than the window (same encoding); absent while there is none. */
  retired?: string;
}

/** The histograms that together hold every sample since the worker started. */
export function allSamples(w: LatencyWire): string[] {
  return w.retired === undefined ? w.window : [w.retired, ...w.window];
}

export type LatencySnapshot = Record<LatencyMetric, LatencyWire>;

/** Latencies up to 10 s (later ones still count: the histogram resizes). */
export const newLatencyHistogram = (): Histogram => buildHistogram(10_000_000);

/**
 * Whole-ms samples below this are counted in a plain array and moved into
 * the histogram at each snapshot: the per-tag, per-player metric
 * (ingestToEgress) is recorded hundreds of thousands of times a second, and
 * HdrHistogram's recordValue costs ~100 ns where an array increment costs
 * one. The histogram ends up the same (recordValueWithCount).
 */
const PENDING_MS = 1024;

class Track {
  count = 0;
  sumUs = 0;
  current = newLatencyHistogram();
  previous = newLatencyHistogram();
  readonly retired = newLatencyHistogram();
  private readonly pending = new Float64Array(PENDING_MS);
  private anyPending = false;

  record(ms: number): void {
    this.count++;
    if (ms >= 0 && ms < PENDING_MS && (ms | 0) === ms) {
      this.pending[ms]++;
      this.anyPending = true;
      this.sumUs += ms * 1000;
      return;
    }
    this.sumUs += recordMs(this.current, ms);
  }

  /** Moves the counted whole-ms samples into `current`. */
  private settle(): void {
    if (!this.anyPending) return;
    this.anyPending = false;
    const p = this.pending;
    for (let ms = 0; ms < PENDING_MS; ms++) {
      if (p[ms] === 0) continue;
      this.current.recordValueWithCount(ms * 1000, p[ms]!);
      p[ms] = 0;
    }
  }

  turn(): void {
    this.settle();
    const old = this.previous;
    this.previous = this.current;
    if (old.totalCount > 0) this.retired.add(old);
    old.reset();
    this.current = old;
  }

  wire(): LatencyWire {
    this.settle();
    const window = [this.previous, this.current].filter((h) => h.totalCount > 0).map(encodeHistogram);
    const w: LatencyWire = { count: this.count, sumUs: this.sumUs, window };
    if (this.retired.totalCount > 0) w.retired = encodeHistogram(this.retired);
    return w;
  }
}

/** A worker's recorder: players feed it (LatencyRecorder), sessions add handshake times. */
export class HdrLatencyRecorder implements LatencyRecorder {
  private readonly tracks: Record<LatencyMetric, Track> = {
    ingestToEgress: new Track(),
    firstFrame: new Track(),
    handshake: new Track(),
    pullStart: new Track(),
    hlsBuild: new Track(),
  };
  private turnedAt = Date.now();

  ingestToEgress(ms: number): void {
    this.tracks.ingestToEgress.record(ms);
  }

  firstFrame(ms: number): void {
    this.tracks.firstFrame.record(ms);
  }

  /** From socket accept to the end of the RTMP handshake. */
  handshake(ms: number): void {
    this.tracks.handshake.record(ms);
  }

  /** Edge: from the pull's start (its first player's request) to the first message from an origin. */
  pullStart(ms: number): void {
    this.tracks.pullStart.record(ms);
  }

  /** HLS: building one part (moof + mdat) from the ring. */
  hlsBuild(ms: number): void {
    this.tracks.hlsBuild.record(ms);
  }

  snapshot(now = Date.now()): LatencySnapshot {
    if (now - this.turnedAt >= WINDOW_MS) {
      this.turnedAt = now;
      for (const m of LATENCY_METRICS) this.tracks[m].turn();
    }
    const out = {} as LatencySnapshot;
    for (const m of LATENCY_METRICS) out[m] = this.tracks[m].wire();
    return out;
  }
}

/** Several workers' figures of one metric, merged. */
export interface MergedLatency {
  count: number;
  sumSeconds: number;
  /** Value at quantile q (0..1) over the window, in seconds; NaN when the window is empty. */
  quantile(q: number): number;
}

export function mergeLatency(parts: readonly LatencyWire[]): MergedLatency {
  const merged = mergeHistograms(newLatencyHistogram(), parts.flatMap((p) => p.window));
  let count = 0;
  let sumUs = 0;
  for (const p of parts) {
    count += p.count;
    sumUs += p.sumUs;
  }
  return {
    count,
    sumSeconds: sumUs / 1e6,
    quantile: (q) => (merged.totalCount === 0 ? NaN : merged.getValueAtPercentile(q * 100) / 1e6),
  };
}

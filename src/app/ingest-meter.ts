/**
 * Ingest bitrate of the streams published on this worker: once a second
 * the bytes each home stream has taken in are sampled, and the rate is
 * measured over the last SAMPLES seconds (a moving window, steady whatever
 * the admin API's polling rate).
 */
import type { LiveStream } from '../media/live-stream.js';
import type { WorkerHub } from '../cluster/worker-hub.js';

const SAMPLE_MS = 1000;
/** Samples kept per stream: the window is SAMPLES - 1 intervals. */
const SAMPLES = 6;

interface Sample {
  at: number;
  bytes: number;
}

export class IngestMeter {
  private readonly samples = new WeakMap<LiveStream, Sample[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly hub: WorkerHub) {}

  /** Starts sampling; the timer never keeps a thread alive. */
  start(): this {
    this.timer ??= setInterval(() => this.sample(Date.now()), SAMPLE_MS).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sample(now: number): void {
    for (const s of this.hub.list()) {
      if (!s.isHome) continue;
      let list = this.samples.get(s);
      // Samples from before a gap (the publisher left and came back here) would blur the window.
      if (!list || now - list[list.length - 1]!.at > 2 * SAMPLE_MS) this.samples.set(s, (list = []));
      list.push({ at: now, bytes: s.counters.bytesIn });
      if (list.length > SAMPLES) list.shift();
    }
  }

  /** Media bits per second taken in over the window (0 when not published here); before two samples, the average since the publish. */
  bitsPerSecond(s: LiveStream, now = Date.now()): number {
    if (!s.isHome) return 0;
    const list = this.samples.get(s);
    if (list && list.length >= 2) {
      const first = list[0]!;
      const last = list[list.length - 1]!;
      return ((last.bytes - first.bytes) * 8 * 1000) / Math.max(1, last.at - first.at);
    }
    return (s.counters.bytesIn * 8 * 1000) / Math.max(1000, now - s.publishedAt);
  }
}

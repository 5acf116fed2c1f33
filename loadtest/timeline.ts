/**
 * The main thread's view of a run while it goes: tick messages from every
 * task, added up per second into the timeline (throughput, latency,
 * players over time) and into running totals for the live progress line.
 */
import { decodeHistogram, newHistogram, type Histogram } from './histograms.js';
import { addTotals, zeroTotals, type TickMessage, type Totals } from './messages.js';

/** One second of the run, (t-1, t] seconds after its start. */
export interface TimelinePoint {
  t: number;
  /** Players playing / publishers live at the end of that second. */
  playing: number;
  live: number;
  mbpsIn: number;
  mbpsOut: number;
  framesIn: number;
  gaps: number;
  /** Video latency of frames received in that second, ms (0 when none). */
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** What the progress line shows after each second. */
export interface ProgressSnapshot extends Pick<TimelinePoint, 'playing' | 'live' | 'mbpsIn' | 'mbpsOut'> {
  tick: number;
  durationS: number;
  playersTarget: number;
  /** Since the start (the rest is this second). */
  totals: Totals;
  /** Video latency so far, ms. */
  p50: number;
  p99: number;
}

interface Second {
  delta: Totals;
  playing: number;
  live: number;
  latency: Histogram;
}

const mbps = (bytes: number): number => Math.round(((bytes * 8) / 1e6) * 100) / 100;
const ms = (us: number): number => Math.round(us) / 1000;

export class Timeline {
  private readonly seconds = new Map<number, Second>();
  readonly totals = zeroTotals();
  /** Every interval latency histogram added up: the "so far" percentiles. */
  private readonly latency = newHistogram();

  add(m: TickMessage): void {
    let s = this.seconds.get(m.tick);
    if (!s) this.seconds.set(m.tick, (s = { delta: zeroTotals(), playing: 0, live: 0, latency: newHistogram() }));
    addTotals(s.delta, m.delta);
    addTotals(this.totals, m.delta);
    s.playing += m.playing;
    s.live += m.live;
    const h = decodeHistogram(m.latency);
    if (h.totalCount > 0) {
      s.latency.add(h);
      this.latency.add(h);
    }
  }

  snapshot(tick: number, durationS: number, playersTarget: number): ProgressSnapshot {
    const s = this.seconds.get(tick);
    return {
      tick,
      durationS,
      playersTarget,
      playing: s?.playing ?? 0,
      live: s?.live ?? 0,
      mbpsIn: mbps(s?.delta.bytesIn ?? 0),
      mbpsOut: mbps(s?.delta.bytesOut ?? 0),
      totals: { ...this.totals },
      p50: ms(this.latency.getValueAtPercentile(50)),
      p99: ms(this.latency.getValueAtPercentile(99)),
    };
  }

  /** Video latency of the frames received in seconds `from` to `to`, both included. */
  latencyOver(from: number, to: number): Histogram {
    const h = newHistogram();
    for (const [t, s] of this.seconds) if (t >= from && t <= to && s.latency.totalCount > 0) h.add(s.latency);
    return h;
  }

  /** Every second from 1 to the last one reported, gaps filled with zeros. */
  points(): TimelinePoint[] {
    const last = Math.max(0, ...this.seconds.keys());
    const out: TimelinePoint[] = [];
    for (let t = 1; t <= last; t++) {
      const s = this.seconds.get(t);
      const h = s?.latency ?? newHistogram();
      out.push({
        t,
        playing: s?.playing ?? 0,
        live: s?.live ?? 0,
        mbpsIn: mbps(s?.delta.bytesIn ?? 0),
        mbpsOut: mbps(s?.delta.bytesOut ?? 0),
        framesIn: s?.delta.framesIn ?? 0,
        gaps: s?.delta.gaps ?? 0,
        count: h.totalCount,
        p50: ms(h.getValueAtPercentile(50)),
        p99: ms(h.getValueAtPercentile(99)),
        max: ms(h.maxValue),
      });
    }
    return out;
  }
}

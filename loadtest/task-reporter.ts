/**
 * The bookkeeping every task does: its counters and histograms, the
 * once-a-second tick to the main thread (aligned to t0 + k s, so ticks of
 * all tasks line up), the stop request from the main thread, and the final
 * envelope.
 */
import { describeError } from '../src/core/errors.js';
import { encodeHistogram, newHistogram, recordMs, type Histogram, type HistogramName, type PlayerHistogramName } from './histograms.js';
import { diffTotals, packMessage, zeroTotals, type TaskEnvelope, type TaskInput, type TaskMessage, type Totals } from './messages.js';
import type { PlayProtocol } from './options.js';
import { wallNowMs } from './schedule.js';

/** Distinct error messages kept; the rest are counted under one line. */
const MAX_ERROR_KINDS = 20;

export interface Gauges {
  playing: number;
  live: number;
}

export class TaskReporter {
  readonly totals = zeroTotals();
  readonly byProtocol: Partial<Record<PlayProtocol, Totals>> = {};
  readonly errors: Record<string, number> = {};
  private readonly histograms = new Map<HistogramName, Histogram>();
  private readonly protocolHistograms = new Map<PlayProtocol, Map<PlayerHistogramName, Histogram>>();
  /** Video latency of the current second, for the live p50/p99 and the report's timeline. */
  private readonly interval = newHistogram();
  private last = zeroTotals();
  stopRequested = false;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private readonly stopHandlers: (() => void)[] = [];

  constructor(
    private readonly input: TaskInput,
    private readonly gauges: () => Gauges,
  ) {
    input.port.on('message', (m: { type?: string }) => {
      if (m?.type !== 'stop') return;
      this.stopRequested = true;
      for (const f of this.stopHandlers.splice(0)) f();
    });
    this.armTick();
  }

  /** Called once when the main thread asks the task to end early (at once if it already has). */
  onStop(f: () => void): void {
    if (this.stopRequested) f();
    else this.stopHandlers.push(f);
  }

  /** Resolves at wall-clock `ms`, or earlier when the main thread asks the task to stop. */
  waitUntil(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, Math.max(0, ms - wallNowMs()));
      this.onStop(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  histogram(name: HistogramName): Histogram {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = newHistogram()));
    return h;
  }

  /** A player sample: into the run's histogram and its protocol's. */
  recordPlayer(name: PlayerHistogramName, protocol: PlayProtocol, ms: number): void {
    recordMs(this.histogram(name), ms);
    let byName = this.protocolHistograms.get(protocol);
    if (!byName) this.protocolHistograms.set(protocol, (byName = new Map()));
    let h = byName.get(name);
    if (!h) byName.set(name, (h = newHistogram()));
    recordMs(h, ms);
  }

  /** Video latency goes to the run's histogram, its protocol's and this second's. */
  recordVideoLatency(ms: number, protocol: PlayProtocol): void {
    this.recordPlayer('latency', protocol, ms);
    recordMs(this.interval, ms);
  }

  protocolTotals(p: PlayProtocol): Totals {
    return (this.byProtocol[p] ??= zeroTotals());
  }

  error(err: unknown): void {
    let msg = describeError(err);
    if (!(msg in this.errors) && Object.keys(this.errors).length >= MAX_ERROR_KINDS) msg = '(other errors)';
    this.errors[msg] = (this.errors[msg] ?? 0) + 1;
  }

  post(m: TaskMessage): void {
    if (!this.finished) this.input.port.postMessage(packMessage(m));
  }

  /** Arms the tick after `prev` (or the next one due, if the loop fell behind); never the same tick twice. */
  private armTick(prev = 0): void {
    const now = wallNowMs();
    const tick = Math.max(prev + 1, Math.floor((now - this.input.t0Ms) / 1000) + 1);
    this.timer = setTimeout(() => this.tick(tick), Math.max(0, this.input.t0Ms + tick * 1000 - now));
  }

  private tick(tick: number): void {
    const delta = diffTotals(this.totals, this.last);
    this.last = { ...this.totals };
    const { playing, live } = this.gauges();
    this.post({ type: 'tick', task: this.input.task, tick, delta, playing, live, latency: encodeHistogram(this.interval) });
    this.interval.reset();
    this.armTick(tick);
  }

  /** Stops ticking, closes the port and returns the envelope (msgpackr). */
  finish(): Uint8Array {
    clearTimeout(this.timer);
    this.finished = true;
    this.input.port.close();
    const histograms: TaskEnvelope['histograms'] = {};
    for (const [name, h] of this.histograms) histograms[name] = encodeHistogram(h);
    const protocolHistograms: TaskEnvelope['protocolHistograms'] = {};
    for (const [p, byName] of this.protocolHistograms) {
      const out: Partial<Record<PlayerHistogramName, string>> = (protocolHistograms[p] = {});
      for (const [name, h] of byName) out[name] = encodeHistogram(h);
    }
    const envelope: TaskEnvelope = {
      task: this.input.task,
      kind: this.input.kind,
      totals: this.totals,
      byProtocol: this.byProtocol,
      histograms,
      protocolHistograms,
      errors: this.errors,
    };
    return packMessage(envelope);
  }
}

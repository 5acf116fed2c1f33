/**
 * The merged-write window a worker's streams wait before pumping players,
 * chosen from how busy the worker's event loop is. Each flush costs one
 * write per player, and on a busy worker those writes are the CPU, so a
 * loaded worker merges what arrives within a few milliseconds into one
 * write; an idle one pumps at once, where merging would buy nothing and
 * cost latency. The window grows linearly with event-loop utilization
 * between LOW and HIGH, up to `budgetMs` (player.mergeBudgetMs): the most
 * latency the operator lets sluice add for CPU.
 *
 * A fixed window (player.mergeWriteMs > 0) replaces this, SRS-style.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** Utilization below which nothing is merged, and at which the whole budget is used. */
const LOW = 0.1;
const HIGH = 0.5;
/** How often utilization is sampled, and how much a sample moves the smoothed value. */
const SAMPLE_MS = 200;
const WEIGHT = 0.5;

export type MergeWindow = () => number;

/** A window of `fixedMs` when it is above 0, else the load-adaptive one up to `budgetMs` (0: none). */
export function mergeWindowOf(fixedMs: number, budgetMs: number): MergeWindow {
  if (fixedMs > 0) return () => fixedMs;
  if (budgetMs === 0) return () => 0;
  return new LoadAdaptiveWindow(budgetMs).current;
}

export class LoadAdaptiveWindow {
  private elu = 0;
  private windowMs = 0;
  private last: EventLoopUtilization;

  constructor(
    private readonly budgetMs: number,
    sample: () => EventLoopUtilization = () => performance.eventLoopUtilization(),
    everyMs = SAMPLE_MS,
  ) {
    this.last = sample();
    setInterval(() => {
      const now = sample();
      this.observe(performance.eventLoopUtilization(now, this.last).utilization);
      this.last = now;
    }, everyMs).unref();
  }

  /** One utilization sample (0..1); exposed for tests. */
  observe(utilization: number): void {
    this.elu = this.elu * (1 - WEIGHT) + utilization * WEIGHT;
    const share = Math.min(1, Math.max(0, (this.elu - LOW) / (HIGH - LOW)));
    // Below a millisecond a timer only adds its own cost: pump on the next turn instead.
    const ms = Math.round(this.budgetMs * share);
    this.windowMs = ms < 1 ? 0 : ms;
  }

  readonly current = (): number => this.windowMs;
}

/**
 * Everything the churn has open: each client registers how to close it,
 * each pending start its timer, so the end of the churn (or Ctrl-C) can
 * close all of them and wait until they are gone. Nothing outlives
 * closeAll().
 */
import { within } from './deadline.js';

/** Closes a client; resolves once its socket is gone. Called at most once. */
export type Closer = () => Promise<void>;

export class ClientSet {
  private readonly open = new Map<number, Closer>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending = new Set<Promise<unknown>>();
  private nextId = 1;
  stopped = false;

  get size(): number {
    return this.open.size;
  }

  /** Registers an open client; returns the function that unregisters it (call it when it closed by itself). */
  add(close: Closer): () => void {
    const id = this.nextId++;
    this.open.set(id, close);
    return () => void this.open.delete(id);
  }

  /** setTimeout that closeAll() cancels; nothing runs after the churn stopped. */
  later(ms: number, f: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) f();
    }, Math.max(0, ms));
    this.timers.add(t);
  }

  /** Tracks an async attempt (a connect in flight) so closeAll() waits for it to settle. */
  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.then(
      () => this.pending.delete(p),
      () => this.pending.delete(p),
    );
    return p;
  }

  /** Stops new starts, waits (up to `ms`) for attempts in flight, closes every client, and waits for them (up to `ms`). */
  async closeAll(ms = 5000): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await within(Promise.allSettled([...this.pending]), ms);
    const closers = [...this.open.values()];
    this.open.clear();
    await within(Promise.allSettled(closers.map((c) => c())), ms);
  }
}

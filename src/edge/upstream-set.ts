/**
 * Every upstream connection of a worker (pulls and pushes) for the control
 * plane: the open ones, and totals that keep what ended ones moved, so the
 * counters built on them never go back.
 */
import type { UpstreamInfo, UpstreamRegistry, UpstreamTotals } from '../app/context.js';

export interface Upstream {
  info(): UpstreamInfo;
  stop(reason: string): void;
}

export class UpstreamSet implements UpstreamRegistry {
  private readonly open = new Set<Upstream>();
  private readonly ended: UpstreamTotals = { reconnects: 0, bytesIn: 0, bytesOut: 0 };
  /** Run first on closeAll: the owners stop opening new upstreams. */
  private readonly closers: (() => void)[] = [];

  add(u: Upstream): void {
    this.open.add(u);
  }

  /** An upstream ended: what it moved stays in the totals. */
  remove(u: Upstream): void {
    if (!this.open.delete(u)) return;
    const i = u.info();
    this.ended.reconnects += i.reconnects;
    this.ended.bytesIn += i.bytesIn;
    this.ended.bytesOut += i.bytesOut;
  }

  onClose(f: () => void): void {
    this.closers.push(f);
  }

  list(): UpstreamInfo[] {
    return [...this.open].map((u) => u.info());
  }

  totals(): UpstreamTotals {
    const t = { ...this.ended };
    for (const i of this.list()) {
      t.reconnects += i.reconnects;
      t.bytesIn += i.bytesIn;
      t.bytesOut += i.bytesOut;
    }
    return t;
  }

  /** Shutdown: nothing new opens, every upstream stops. */
  closeAll(reason: string): void {
    for (const f of this.closers) f();
    for (const u of [...this.open]) u.stop(reason);
  }
}

/**
 * Connections per client address (access.maxConnectionsPerIp), counted in
 * the worker that holds them: RTMP sessions and HTTP-FLV / WS-FLV players
 * alike. The kernel spreads one address's connections over the workers
 * (SO_REUSEPORT), so a node admits up to workers × the cap; docs/access.md.
 */
import { plainIp } from './ip-rules.js';

export class IpCounter {
  private readonly counts = new Map<string, number>();

  /** `max` 0: no cap (counting is skipped too). */
  constructor(private readonly max: number) {}

  /** Takes a slot for `ip`; false (nothing taken) when it already holds `max`. */
  take(ip: string): boolean {
    if (this.max === 0) return true;
    const key = plainIp(ip);
    const n = this.counts.get(key) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  /** Gives back a slot `take` granted. */
  give(ip: string): void {
    if (this.max === 0) return;
    const key = plainIp(ip);
    const n = (this.counts.get(key) ?? 0) - 1;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }

  /** Addresses holding at least one slot (tests, metrics). */
  get addresses(): number {
    return this.counts.size;
  }
}

/**
 * Outbound publishes around every local publish (StreamService hooks):
 * on an edge, an encoder's publish is forwarded to the origins first (the
 * encoder hears Publish.Start only once an origin accepted it, BadName if
 * one refused the name); in any mode, relay.push rules republish matching
 * streams to each of their destinations in the background.
 */
import type { ServerContext } from '../app/context.js';
import type { PublishHooks, PublishLease } from '../app/stream-service.js';
import { PushSession } from './push-session.js';
import type { UpstreamSet } from './upstream-set.js';

/** "live/*" -> a test of stream keys (`*`: any run of characters). */
export function keyPattern(glob: string): (key: string) => boolean {
  const re = new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return (key) => re.test(key);
}

export class PushManager implements PublishHooks {
  private readonly byLease = new Map<PublishLease, PushSession[]>();
  private readonly rules: { test: (key: string) => boolean; to: string[] }[];
  private closed = false;

  constructor(
    private readonly ctx: ServerContext,
    private readonly upstreams: UpstreamSet,
  ) {
    this.rules = ctx.config.relay.push.map((r) => ({ test: keyPattern(r.match), to: r.to }));
    upstreams.onClose(() => (this.closed = true));
  }

  async begin(lease: PublishLease, query: string): Promise<void> {
    if (this.closed) return;
    const s = lease.stream;
    const sessions: PushSession[] = [];
    this.byLease.set(lease, sessions);
    if (this.ctx.config.mode === 'edge' && s.source === 'publisher') {
      const forward = this.track(new PushSession(this.ctx, 'forward', s.app, s.name, this.ctx.config.edge.origins, query), sessions);
      try {
        await forward.open();
      } catch (err) {
        this.end(lease);
        throw err;
      }
    }
    for (const rule of this.rules) {
      if (!rule.test(s.key)) continue;
      for (const to of rule.to) this.track(new PushSession(this.ctx, 'relay', s.app, s.name, [to], ''), sessions).startInBackground();
    }
  }

  end(lease: PublishLease): void {
    const sessions = this.byLease.get(lease);
    if (!sessions) return;
    this.byLease.delete(lease);
    for (const p of sessions) {
      p.stop('the local publish ended');
      this.upstreams.remove(p);
    }
  }

  private track(p: PushSession, into: PushSession[]): PushSession {
    into.push(p);
    this.upstreams.add(p);
    return p;
  }
}

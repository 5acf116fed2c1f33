/**
 * An edge worker's pulls: the directory elects this worker to pull a
 * stream (hub `pull`), or tells it to stop one (`pullStop`); this keeps at
 * most one PullSession per stream here and tells the directory when a pull
 * ended without ever going live.
 */
import type { PullHandler } from '../cluster/worker-hub.js';
import type { ServerContext } from '../app/context.js';
import { PullSession } from './pull-session.js';
import { splitKey } from './origins.js';
import type { UpstreamSet } from './upstream-set.js';

export class EdgePuller implements PullHandler {
  private readonly sessions = new Map<string, PullSession>();
  /** Owner ids of pulled publishes: negative, so never an RTMP session's. */
  private nextOwner = -1;
  private closed = false;

  constructor(
    private readonly ctx: ServerContext,
    private readonly upstreams: UpstreamSet,
  ) {
    upstreams.onClose(() => (this.closed = true));
  }

  start(req: { id: number; key: string; query: string }): void {
    if (this.closed) return this.ctx.hub.pullEnded(req.id, req.key, 'this node is shutting down');
    const have = this.sessions.get(req.key);
    if (have?.entryId === req.id) return;
    have?.stop('a newer pull of the name');
    const { app, name } = splitKey(req.key);
    const s = new PullSession(this.ctx, app, name, req.id, req.query, this.nextOwner--, (done, published, reason) => {
      if (this.sessions.get(done.key) === done) this.sessions.delete(done.key);
      this.upstreams.remove(done);
      // An unpublish told the directory already; a pull that never went live must say so itself.
      if (!published) this.ctx.hub.pullEnded(done.entryId, done.key, reason);
    });
    this.sessions.set(req.key, s);
    this.upstreams.add(s);
    s.start();
  }

  wake(req: { id: number; key: string }): void {
    const s = this.sessions.get(req.key);
    if (s?.entryId === req.id) s.lookAgain();
  }

  stop(req: { id: number; key: string; reason: string }): void {
    const s = this.sessions.get(req.key);
    if (s?.entryId === req.id) s.stop(req.reason);
  }
}

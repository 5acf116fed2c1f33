/**
 * An edge worker's upstreams: the directory elects this worker to pull a
 * stream (hub `pull`), or tells it to stop one (`pullStop`); this keeps at
 * most one PullSession per stream here and tells the directory when a pull
 * ended without ever going live.
 */
import type { PullHandler } from '../cluster/worker-hub.js';
import type { ServerContext, UpstreamInfo, UpstreamRegistry } from '../app/context.js';
import { PullSession } from './pull-session.js';
import { splitKey } from './origins.js';

export class EdgePuller implements PullHandler, UpstreamRegistry {
  private readonly sessions = new Map<string, PullSession>();
  /** Owner ids of pulled publishes: negative, so never an RTMP session's. */
  private nextOwner = -1;
  private closed = false;
  /** Of upstreams that have ended (live ones are read from their sessions). */
  private readonly ended = { reconnects: 0, bytesIn: 0 };

  constructor(private readonly ctx: ServerContext) {}

  start(req: { id: number; key: string; query: string }): void {
    if (this.closed) return this.ctx.hub.pullEnded(req.id, req.key, 'this node is shutting down');
    const have = this.sessions.get(req.key);
    if (have?.entryId === req.id) return;
    have?.stop('a newer pull of the name');
    const { app, name } = splitKey(req.key);
    const s = new PullSession(this.ctx, app, name, req.id, req.query, this.nextOwner--, (done, published, reason) => {
      if (this.sessions.get(done.key) === done) this.sessions.delete(done.key);
      const info = done.info();
      this.ended.reconnects += info.reconnects;
      this.ended.bytesIn += info.bytesIn;
      // An unpublish told the directory already; a pull that never went live must say so itself.
      if (!published) this.ctx.hub.pullEnded(done.entryId, done.key, reason);
    });
    this.sessions.set(req.key, s);
    s.start();
  }

  stop(req: { id: number; key: string; reason: string }): void {
    const s = this.sessions.get(req.key);
    if (s?.entryId === req.id) s.stop(req.reason);
  }

  list(): UpstreamInfo[] {
    return [...this.sessions.values()].map((s) => s.info());
  }

  totals(): { reconnects: number; bytesIn: number } {
    const t = { ...this.ended };
    for (const u of this.list()) {
      t.reconnects += u.reconnects;
      t.bytesIn += u.bytesIn;
    }
    return t;
  }

  /** Shutdown: every upstream closes, and no new one opens. */
  closeAll(reason: string): void {
    this.closed = true;
    for (const s of [...this.sessions.values()]) s.stop(reason);
  }
}

/** Makes this worker an edge puller (mode edge). */
export function enableEdge(ctx: ServerContext): void {
  if (ctx.config.mode !== 'edge') return;
  const puller = new EdgePuller(ctx);
  ctx.hub.pulls = puller;
  ctx.upstreams = puller;
}

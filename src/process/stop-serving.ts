/**
 * The one way a server stops serving, for a worker's drain and for the
 * single-process close: stop accepting, end every player and session
 * properly (players get Play.Stop / the end of their FLV stream), give them
 * `graceMs` to go, then close whatever socket is left: uWS idle keep-alive
 * connections must not outlive a worker thread.
 */
import type { ServerContext } from '../app/context.js';
import { closeFlvPlayers, type HttpListener } from '../http/flv-route.js';
import { closeSessions, type RtmpListener } from '../rtmp/listener.js';

export async function stopServing(ctx: ServerContext, rtmp: RtmpListener, http: HttpListener | undefined, reason: string, graceMs: number): Promise<void> {
  const stopped = rtmp.stop();
  http?.stop();
  ctx.ingest.stop();
  ctx.upstreams?.closeAll(reason);
  closeFlvPlayers(ctx, reason);
  closeSessions(ctx, reason);
  const until = Date.now() + graceMs;
  while (ctx.sessions.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  await stopped;
  http?.closeAll();
}

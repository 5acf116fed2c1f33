/**
 * The one way a server stops serving, for a worker's drain and for the
 * single-process close: stop accepting; ask the RTMP clients that can
 * reconnect (E-RTMP v2 capsEx Reconnect) to move and give them
 * cluster.reconnectWaitMs to leave while still served; then end every
 * player and session properly (players get Play.Stop / the end of their
 * FLV stream), give them `graceMs` to go, and close whatever socket is
 * left: uWS idle keep-alive connections must not outlive a worker thread.
 */
import type { ServerContext } from '../app/context.js';
import { closeFlvPlayers, type HttpListener } from '../http/flv-route.js';
import { closeSessions, requestReconnects, type RtmpListener } from '../rtmp/listener.js';

/** How often the drain looks whether the sessions it waits for have gone. */
const POLL_MS = 20;

export async function stopServing(ctx: ServerContext, rtmp: RtmpListener, http: HttpListener | undefined, reason: string, graceMs: number): Promise<void> {
  const stopped = rtmp.stop();
  http?.stop();
  ctx.ingest.stop();
  // Before anything ends: upstreams and streams stay up, so the clients asked keep their media until they have moved.
  await letReconnectableMove(ctx, reason);
  ctx.upstreams?.closeAll(reason);
  closeFlvPlayers(ctx, reason);
  closeSessions(ctx, reason);
  await pollUntil(() => ctx.sessions.size === 0, graceMs);
  await stopped;
  http?.closeAll();
}

/**
 * The E-RTMP clients asked to reconnect connect elsewhere first, then close
 * this connection (E-RTMP v2 message flow): wait for that, up to
 * cluster.reconnectWaitMs. Nobody asked, no wait.
 */
async function letReconnectableMove(ctx: ServerContext, reason: string): Promise<void> {
  const asked = requestReconnects(ctx, `Reconnect requested: ${reason}.`);
  if (asked.length === 0) return;
  const t0 = Date.now();
  await pollUntil(() => asked.every((s) => s.closed), ctx.config.cluster.reconnectWaitMs);
  const moved = asked.filter((s) => s.closed).length;
  ctx.log.info({ asked: asked.length, moved, waitedMs: Date.now() - t0 }, 'reconnect wait over');
}

async function pollUntil(done: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, POLL_MS));
}

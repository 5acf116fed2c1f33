/**
 * The RTMP listener of one worker (or of a single-process server): accepts
 * connections, bounds their number, and hands each to an RtmpSession.
 */
import net from 'node:net';
import type { ServerContext } from '../app/context.js';
import { RtmpSession } from './session.js';

export type ListenOn = { fd: number } | { host: string; port: number };

export interface RtmpListener {
  readonly port: number;
  /** Stops accepting; existing sessions go on until closed. */
  stop(): Promise<void>;
}

export async function listenRtmp(ctx: ServerContext, on: ListenOn): Promise<RtmpListener> {
  const { config, log } = ctx;
  const server = net.createServer({ noDelay: true }, (socket) => {
    ctx.counters.connectionsTotal++;
    if (ctx.sessions.size >= config.rtmp.maxConnections) {
      ctx.counters.connectionsRefused++;
      log.warn(
        { peer: `${socket.remoteAddress}:${socket.remotePort}`, code: 'ERR_LIMIT', reason: `rtmp.maxConnections ${config.rtmp.maxConnections} reached` },
        'connection refused',
      );
      socket.destroy();
      return;
    }
    const session = new RtmpSession(socket, ctx);
    ctx.sessions.set(session.id, session);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if ('fd' in on) server.listen({ fd: on.fd }, done);
    else server.listen(on.port, on.host, done);
  });
  const port = (server.address() as net.AddressInfo).port;
  log.info({ port }, 'rtmp listening');
  let stopping: Promise<void> | undefined;
  return {
    port,
    stop() {
      stopping ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return stopping;
    },
  };
}

/** Ends every session of a context (shutdown): players get Play.Stop first via their streams. */
export function closeSessions(ctx: ServerContext, reason: string): void {
  ctx.hub.closeAll(reason);
  for (const s of [...ctx.sessions.values()]) s.close(reason);
}

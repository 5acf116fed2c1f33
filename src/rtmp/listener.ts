/**
 * The RTMP listeners of one worker (or of a single-process server): plain
 * RTMP and, with a certificate, RTMPS. Both accept connections, bound their
 * number, and hand each to the same RtmpSession: TLS is only the socket.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ServerContext } from '../app/context.js';
import { RtmpSession } from './session.js';
import { loadTls, watchTls, type TlsFiles } from '../app/tls-files.js';

export type ListenOn = { fd: number } | { host: string; port: number };

export interface RtmpListener {
  readonly port: number;
  /** The RTMPS port, when RTMPS is on. */
  readonly tlsPort: number | undefined;
  /** Stops accepting; existing sessions go on until closed. */
  stop(): Promise<void>;
}

export async function listenRtmp(ctx: ServerContext, on: ListenOn, tlsOn?: { on: ListenOn; files: TlsFiles }): Promise<RtmpListener> {
  // Certificate problems fail the start before anything listens.
  const server = tlsOn && tls.createServer({ ...loadTls(tlsOn.files), handshakeTimeout: ctx.config.rtmp.handshakeTimeoutMs });
  const plain = await listen(ctx, net.createServer({ noDelay: true }), on, 'rtmp');
  if (!tlsOn || !server) return { port: plain.port, tlsPort: undefined, stop: plain.stop };
  // A client that does not speak TLS (or fails the handshake) ends there: counted and logged, no session exists yet.
  server.on('tlsClientError', (err, socket) => {
    ctx.counters.handshakeFailures++;
    ctx.log.warn({ peer: `${socket.remoteAddress}:${socket.remotePort}`, code: 'ERR_HANDSHAKE', reason: `tls: ${err.message}` }, 'rtmps handshake failed');
    socket.destroy();
  });
  let secure: Served;
  try {
    secure = await listen(ctx, server, tlsOn.on, 'rtmps');
  } catch (err) {
    await plain.stop();
    throw err;
  }
  const unwatch = watchTls(server, tlsOn.files, ctx.log);
  return {
    port: plain.port,
    tlsPort: secure.port,
    stop: async () => {
      unwatch();
      await Promise.all([plain.stop(), secure.stop()]);
    },
  };
}

interface Served {
  port: number;
  stop(): Promise<void>;
}

async function listen(ctx: ServerContext, server: net.Server, on: ListenOn, what: 'rtmp' | 'rtmps'): Promise<Served> {
  const { config, log } = ctx;
  server.on(what === 'rtmps' ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    if (what === 'rtmps') socket.setNoDelay(true);
    ctx.counters.connectionsTotal++;
    /** Closed at accept: no session exists yet; logged and counted. */
    const refuse = (reason: string, limit: string): void => {
      ctx.countRefused('connect', reason);
      log.warn({ peer: `${socket.remoteAddress}:${socket.remotePort}`, code: 'ERR_LIMIT', reason: `${limit} reached` }, 'connection refused');
      socket.destroy();
    };
    if (ctx.sessions.size >= config.rtmp.maxConnections) {
      ctx.counters.connectionsRefused++;
      return refuse('max-connections', `rtmp.maxConnections ${config.rtmp.maxConnections}`);
    }
    const ip = socket.remoteAddress ?? '';
    if (!ctx.perIp.take(ip)) return refuse('ip-connections', `access.maxConnectionsPerIp ${config.access.maxConnectionsPerIp}`);
    socket.once('close', () => ctx.perIp.give(ip));
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
  log.info({ port }, `${what} listening`);
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

/**
 * Drain with cluster.reconnectRequest: every session whose client announced
 * E-RTMP reconnect is asked to move (NetConnection.Connect.ReconnectRequest);
 * returns those asked, which go on being served until they leave.
 */
export function requestReconnects(ctx: ServerContext, reason: string): RtmpSession[] {
  if (!ctx.config.cluster.reconnectRequest) return [];
  return [...ctx.sessions.values()].filter((s): s is RtmpSession => s instanceof RtmpSession && s.requestReconnect(reason));
}

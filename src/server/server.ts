/**
 * The RTMP server of one process: listens, bounds connections, and owns
 * the stream registry and slab pool its sessions share.
 */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { SlabPool } from '../core/slab-pool.js';
import { StreamRegistry } from '../media/stream-registry.js';
import { resolveConfig, type ConfigInput, type SluiceConfig } from './config.js';
import { createLogger, type Logger } from './log.js';
import { newCounters, type ServerContext } from './context.js';
import { RtmpSession } from './rtmp-session.js';

export interface RunningServer {
  readonly rtmpPort: number;
  readonly config: SluiceConfig;
  readonly ctx: ServerContext;
  readonly pool: SlabPool;
  close(): Promise<void>;
}

export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return '0.0.0';
  }
}

export async function startServer(input: ConfigInput | SluiceConfig = {}, log?: Logger): Promise<RunningServer> {
  const config = resolveConfig(input);
  const logger = log ?? createLogger(config.log.level);
  const pool = new SlabPool(config.media.ringBytes, config.media.maxStreams);
  const ctx: ServerContext = {
    config,
    log: logger,
    registry: new StreamRegistry(pool, config.media),
    counters: newCounters(),
    sessions: new Map(),
    version: packageVersion(),
  };
  const server = net.createServer({ noDelay: true }, (socket) => {
    ctx.counters.connectionsTotal++;
    if (ctx.sessions.size >= config.rtmp.maxConnections) {
      ctx.counters.connectionsRefused++;
      logger.warn({ peer: `${socket.remoteAddress}:${socket.remotePort}`, code: 'ERR_LIMIT', reason: `rtmp.maxConnections ${config.rtmp.maxConnections} reached` }, 'connection refused');
      socket.destroy();
      return;
    }
    const session = new RtmpSession(socket, ctx);
    ctx.sessions.set(session.id, session);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.rtmp.port, config.rtmp.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  logger.info({ host: config.rtmp.host, port: addr.port }, 'rtmp listening');
  let closing: Promise<void> | undefined;
  return {
    rtmpPort: addr.port,
    config,
    ctx,
    pool,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        ctx.registry.closeAll('server shutting down');
        for (const s of [...ctx.sessions.values()]) s.close('server shutting down');
      });
      return closing;
    },
  };
}

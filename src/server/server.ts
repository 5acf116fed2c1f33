/**
 * A single-process server: one thread runs the RTMP listener, the stream
 * directory and its slab pool (what each worker and the primary do in a
 * cluster, see cluster.ts). Used by tests and by `--workers 0`.
 */
import { readFileSync } from 'node:fs';
import { SlabPool } from '../core/slab-pool.js';
import type { StreamOptions } from '../media/types.js';
import { localCluster } from '../cluster/local-link.js';
import type { StreamDirectory } from '../cluster/directory.js';
import { resolveConfig, type ConfigInput, type SluiceConfig } from './config.js';
import { createLogger, type Logger } from './log.js';
import { newCounters, type ServerContext } from './context.js';
import { listenRtmp } from './rtmp-listener.js';
import { listenHttp } from './http-flv.js';
import { stopServing } from './stop-serving.js';
import { HdrLatencyRecorder } from './latency.js';
import { IngestMeter } from './ingest-meter.js';

export interface RunningServer {
  readonly rtmpPort: number;
  readonly httpPort: number | undefined;
  readonly config: SluiceConfig;
  readonly ctx: ServerContext;
  readonly pool: SlabPool;
  readonly directory: StreamDirectory;
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

/** The per-stream settings of a config. */
export function streamOptionsOf(config: SluiceConfig): StreamOptions {
  return { maxTimestampJumpMs: config.media.maxTimestampJumpMs, mergeWriteMs: config.player.mergeWriteMs };
}

/** The slab pool every stream ring comes from. */
export function slabPoolFor(config: SluiceConfig): SlabPool {
  return new SlabPool(config.media.ringBytes, config.media.maxStreams);
}

export function newContext(config: SluiceConfig, log: Logger, hub: ServerContext['hub'], workerId: number): ServerContext {
  return {
    config,
    log,
    hub,
    workerId,
    counters: newCounters(),
    sessions: new Map(),
    flvPlayers: new Set(),
    latency: new HdrLatencyRecorder(),
    ingest: new IngestMeter(hub).start(),
    version: packageVersion(),
  };
}

export async function startServer(input: ConfigInput | SluiceConfig = {}, log?: Logger): Promise<RunningServer> {
  const config = resolveConfig(input);
  const logger = log ?? createLogger(config.log.level);
  const pool = slabPoolFor(config);
  const { directory, hub } = localCluster(pool, config.media, streamOptionsOf(config));
  const ctx = newContext(config, logger, hub, 0);
  const listener = await listenRtmp(ctx, { host: config.rtmp.host, port: config.rtmp.port });
  const http = config.http.enabled ? await listenHttp(ctx, config.http.host, config.http.port) : undefined;
  let closing: Promise<void> | undefined;
  return {
    rtmpPort: listener.port,
    httpPort: http?.port,
    config,
    ctx,
    pool,
    directory,
    close() {
      closing ??= (async () => {
        await stopServing(ctx, listener, http, 'server shutting down', config.cluster.shutdownGraceMs);
        directory.closeAll('server shutting down');
      })();
      return closing;
    },
  };
}

/**
 * A single-process server: one thread runs the RTMP listener, the stream
 * directory and its slab pool (what each worker and the primary do in a
 * cluster, see primary.ts). Used by tests and by `--workers 0`.
 */
import type { SlabPool } from '../core/slab-pool.js';
import { localCluster } from '../cluster/local-link.js';
import type { StreamDirectory } from '../cluster/directory.js';
import { resolveConfig, slabPoolFor, streamOptionsOf, type ConfigInput, type SluiceConfig } from '../app/config.js';
import { createLogger, type Logger } from '../app/log.js';
import { newContext, type ServerContext } from '../app/context.js';
import { listenRtmp } from '../rtmp/listener.js';
import { listenHttp } from '../http/flv-route.js';
import { stopServing } from './stop-serving.js';

export interface RunningServer {
  readonly rtmpPort: number;
  readonly httpPort: number | undefined;
  readonly config: SluiceConfig;
  readonly ctx: ServerContext;
  readonly pool: SlabPool;
  readonly directory: StreamDirectory;
  close(): Promise<void>;
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

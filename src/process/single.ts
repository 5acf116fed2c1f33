/**
 * A single-process server: one thread runs the RTMP listener, the stream
 * directory and its slab pool (what each worker and the primary do in a
 * cluster, see primary.ts), and for `--workers 0` the admin port too.
 * Used by tests and by `--workers 0`.
 */
import type { SlabPool } from '../core/slab-pool.js';
import { localCluster } from '../cluster/local-link.js';
import type { StreamDirectory } from '../cluster/directory.js';
import { resolveConfig, type ConfigInput, type SluiceConfig } from '../app/config.js';
import { adminAccessOf, directoryOptionsOf, httpsOf, redisDirectoryOf, rtmpsOf, slabPoolFor, streamOptionsOf } from '../app/config-views.js';
import { createLogger, type Logger } from '../app/log.js';
import { newContext, type ServerContext } from '../app/context.js';
import { listenRtmp, type RtmpListener } from '../rtmp/listener.js';
import { listenHttp, type HttpListener } from '../http/flv-route.js';
import { startAdmin, type AdminServer } from '../control/admin.js';
import { localControl } from '../control/local-control.js';
import { stopServing } from './stop-serving.js';
import { enableEdge } from '../edge/edge-node.js';

export interface RunningServer {
  readonly rtmpPort: number;
  /** RTMPS, when rtmps.certFile and keyFile are set. */
  readonly rtmpsPort: number | undefined;
  readonly httpPort: number | undefined;
  /** HTTPS-FLV / WSS-FLV, when https.certFile and keyFile are set. */
  readonly httpsPort: number | undefined;
  /** The control plane's port (undefined when not served, see StartOptions). */
  readonly adminPort: number | undefined;
  readonly config: SluiceConfig;
  readonly ctx: ServerContext;
  readonly pool: SlabPool;
  readonly directory: StreamDirectory;
  close(): Promise<void>;
}

export interface StartOptions {
  /**
   * Serve /healthz, /readyz, /metrics and /api/v1 on `admin.port`. Default:
   * when the configuration asks for one thread (`cluster.workers: 0`, that
   * is `--workers 0`), not when a test or tool embeds the server.
   */
  admin?: boolean;
}

export async function startServer(input: ConfigInput | SluiceConfig = {}, log?: Logger, opts: StartOptions = {}): Promise<RunningServer> {
  const config = resolveConfig(input);
  const logger = log ?? createLogger(config.log.level);
  const pool = slabPoolFor(config);
  let rtmpPort = 0;
  let wake: (name: string) => void = () => undefined;
  const crossNode = redisDirectoryOf(config, () => rtmpPort, logger, (name) => wake(name));
  const { directory, hub } = localCluster(pool, directoryOptionsOf(config), streamOptionsOf(config), crossNode);
  wake = (name) => directory.wakePull(name);
  const ctx = newContext(config, logger, hub, 0);
  enableEdge(ctx);
  const rtmps = rtmpsOf(config);
  let listener: RtmpListener;
  let http: HttpListener | undefined;
  try {
    listener = await listenRtmp(ctx, { host: config.rtmp.host, port: config.rtmp.port }, rtmps && { on: rtmps, files: rtmps.files });
    rtmpPort = listener.port;
    http = config.http.enabled ? await listenHttp(ctx, config.http.host, config.http.port, httpsOf(config)) : undefined;
  } catch (err) {
    await crossNode?.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  const stop = async (reason: string): Promise<void> => {
    await stopServing(ctx, listener, http, reason, config.cluster.shutdownGraceMs);
    directory.closeAll(reason);
    await crossNode?.close();
  };
  let admin: AdminServer | undefined;
  if (opts.admin ?? config.cluster.workers === 0) {
    try {
      const ready = () => closing === undefined;
      const readyDetail = () => (crossNode ? [crossNode.readyDetail()] : []);
      admin = await startAdmin({ ...adminAccessOf(config), port: config.admin.port, ready, readyDetail, ...localControl(ctx, directory, pool, crossNode), log: logger,
        console: { playback: () => ({ host: config.http.host, httpPort: http?.port, httpsPort: http?.tlsPort }) } });
    } catch (err) {
      await stop('admin port unavailable');
      throw err;
    }
  }
  logger.info({ rtmpPort: listener.port, rtmpsPort: listener.tlsPort, httpPort: http?.port, httpsPort: http?.tlsPort, adminPort: admin?.port }, 'server started');
  return {
    rtmpPort: listener.port,
    rtmpsPort: listener.tlsPort,
    httpPort: http?.port,
    httpsPort: http?.tlsPort,
    adminPort: admin?.port,
    config,
    ctx,
    pool,
    directory,
    close() {
      closing ??= (async () => {
        // As a cluster's primary: /readyz reads 503 for drainDelayMs while still serving.
        if (admin && config.cluster.drainDelayMs > 0) await new Promise((r) => setTimeout(r, config.cluster.drainDelayMs));
        // Found while still served; then publishers told to reconnect must find their names free on the next node.
        await crossNode?.leave();
        await stop('server shutting down');
        await admin?.close();
      })();
      return closing;
    },
  };
}

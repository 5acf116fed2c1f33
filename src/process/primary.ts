/**
 * The primary thread of a cluster: the stream directory with its slab
 * pool, the supervisor of the worker threads, and the admin endpoints. It
 * runs nothing on the data path: media flows worker to worker through
 * shared slabs.
 */
import type { SlabPool } from '../core/slab-pool.js';
import { StreamDirectory } from '../cluster/directory.js';
import { Supervisor } from '../cluster/supervisor.js';
import { loadTls } from '../app/tls-files.js';
import { resolveConfig, type ConfigInput, type SluiceConfig } from '../app/config.js';
import { adminAccessOf, advertisedUrl, directoryOptionsOf, drainBudgetMs, httpsOf, redisDirectoryOf, rtmpsOf, slabPoolFor } from '../app/config-views.js';
import { createLogger, type Logger } from '../app/log.js';
import { startAdmin, type AdminServer } from '../control/admin.js';
import { AdminApi } from '../control/admin-api.js';
import { ClusterMetrics } from '../control/metrics.js';
import type { WorkerSnapshot } from '../control/snapshot.js';

export interface RunningCluster {
  readonly rtmpPort: number;
  /** RTMPS, when rtmps.certFile and keyFile are set. */
  readonly rtmpsPort: number | undefined;
  readonly adminPort: number;
  /** HTTP-FLV / WS-FLV port of every worker (undefined when http.enabled is false). */
  readonly httpPort: number | undefined;
  /** HTTPS-FLV / WSS-FLV, when https.certFile and keyFile are set. */
  readonly httpsPort: number | undefined;
  readonly config: SluiceConfig;
  readonly pool: SlabPool;
  readonly directory: StreamDirectory;
  readonly supervisor: Supervisor;
  /** The /metrics registry (scrape() collects from fresh worker snapshots). */
  readonly metrics: ClusterMetrics;
  /** Every worker's sessions, counters and streams (`clients: false`: without the session and player lists). */
  snapshots(opts?: { clients?: boolean }): Promise<WorkerSnapshot[]>;
  ready(): boolean;
  /** Graceful stop: not ready, stop listening, close sessions, workers exit. */
  close(reason?: string): Promise<void>;
}

export async function startCluster(input: ConfigInput | SluiceConfig = {}, log?: Logger): Promise<RunningCluster> {
  const config = resolveConfig(input);
  const logger = log ?? createLogger(config.log.level);
  const pool = slabPoolFor(config);
  // A bad certificate fails the start here, not in every worker.
  const rtmps = rtmpsOf(config);
  if (rtmps) loadTls(rtmps.files);
  const https = httpsOf(config);
  if (https) loadTls(https.files);
  const supervisor = new Supervisor({
    script: new URL('./worker-main.js', import.meta.url),
    count: Math.max(1, config.cluster.workers),
    host: config.rtmp.host,
    port: config.rtmp.port,
    httpPort: config.http.enabled ? config.http.port : undefined,
    tls: rtmps,
    https: config.http.enabled ? https : undefined,
    config,
    heartbeat: { intervalMs: config.cluster.heartbeatMs, timeoutMs: config.cluster.heartbeatTimeoutMs, startTimeoutMs: config.cluster.startTimeoutMs },
    log: logger,
  });
  const directory = new StreamDirectory(pool, directoryOptionsOf(config), (w, e) => supervisor.deliver(w, e));
  supervisor.directory = directory;
  let rtmpPort = 0;
  const crossNode = redisDirectoryOf(config, () => rtmpPort, logger, (name) => directory.wakePull(name));
  supervisor.crossNode = crossNode;
  if (crossNode) directory.onPublishEnd = (key) => crossNode.released(key);
  try {
    rtmpPort = await supervisor.start();
  } catch (err) {
    await supervisor.drain('start failed', 1000);
    await crossNode?.close();
    throw err;
  }
  let draining = false;
  const ready = () => !draining && supervisor.ready();
  const snapshots = (opts?: { clients?: boolean }) => supervisor.snapshots<WorkerSnapshot>(opts);
  const metrics = new ClusterMetrics({ snapshots: () => snapshots({ clients: false }), workerIds: () => supervisor.workerIds(), restarts: () => supervisor.restarts, slabs: () => pool.stats(),
    ...(crossNode ? { crossNode: () => crossNode.stats() } : {}) });
  const api = new AdminApi({ directory, snapshots, request: (w, m) => supervisor.request(w, m) });
  let admin: AdminServer;
  try {
    admin = await startAdmin({ ...adminAccessOf(config), port: config.admin.port, ready, readyDetail: () => (crossNode ? [crossNode.readyDetail()] : []), api, metrics, log: logger,
      console: { playback: () => ({ host: config.http.host, httpPort: supervisor.getHttpPort(), httpsPort: supervisor.httpsPort }) } });
  } catch (err) {
    await supervisor.drain('admin port unavailable', 0);
    await crossNode?.close();
    throw err;
  }
  logger.info({ rtmpPort, rtmpsPort: supervisor.tlsPort, httpPort: supervisor.getHttpPort(), httpsPort: supervisor.httpsPort, adminPort: admin.port, workers: config.cluster.workers, ...(crossNode ? { advertise: advertisedUrl(config, rtmpPort) } : {}) }, 'cluster started');
  let closing: Promise<void> | undefined;
  return {
    rtmpPort,
    rtmpsPort: supervisor.tlsPort,
    adminPort: admin.port,
    httpPort: supervisor.getHttpPort(),
    httpsPort: supervisor.httpsPort,
    config,
    pool,
    directory,
    supervisor,
    metrics,
    snapshots,
    ready,
    close(reason = 'server shutting down') {
      closing ??= (async () => {
        draining = true;
        if (config.cluster.drainDelayMs > 0) await new Promise((r) => setTimeout(r, config.cluster.drainDelayMs));
        // Found while still served; then publishers told to reconnect must find their names free on the next node.
        await crossNode?.leave();
        await supervisor.drain(reason, drainBudgetMs(config.cluster));
        directory.closeAll(reason);
        await crossNode?.close();
        await admin.close();
        logger.info({}, 'cluster stopped');
      })();
      return closing;
    },
  };
}

/**
 * Servers and clusters for tests: every listener on 127.0.0.1 with an
 * ephemeral port, logging off, start and close bounded in time.
 */
import { startServer, type RunningServer } from '../../src/process/single.js';
import { startCluster, type RunningCluster } from '../../src/process/primary.js';
import type { ConfigInput } from '../../src/app/config.js';
import { withTimeout } from './net.js';

const LOCAL = { host: '127.0.0.1', port: 0 };

/** One server (RTMP and HTTP-FLV on 127.0.0.1:0); `cfg.rtmp` and `cfg.http` are merged over that. */
export function startTestServer(cfg: ConfigInput = {}, what = 'startServer'): Promise<RunningServer> {
  return withTimeout(
    startServer({ ...cfg, rtmp: { ...LOCAL, ...cfg.rtmp }, http: { ...LOCAL, ...cfg.http }, log: { level: 'silent' } }),
    5000,
    what,
  );
}

/** Closes `srv` (if it started) within 5 s. */
export async function closeServer(srv: RunningServer | undefined, what = 'server close'): Promise<void> {
  if (srv) await withTimeout(srv.close(), 5000, what);
}

/** A cluster of two workers unless `cfg.cluster` says otherwise; RTMP, HTTP-FLV and admin on 127.0.0.1:0. */
export function startTestCluster(cfg: ConfigInput = {}): Promise<RunningCluster> {
  return withTimeout(
    startCluster({
      ...cfg,
      cluster: { workers: 2, ...cfg.cluster },
      rtmp: { ...LOCAL, ...cfg.rtmp },
      admin: { ...LOCAL, ...cfg.admin },
      http: { ...LOCAL, ...cfg.http },
      log: { level: 'silent' },
    }),
    10000,
    'startCluster',
  );
}

/** Closes `cluster` (if it started) within 10 s. */
export async function closeCluster(cluster: RunningCluster | undefined): Promise<void> {
  if (cluster) await withTimeout(cluster.close(), 10000, 'cluster close');
}

/**
 * The control plane of a server that is one thread (`--workers 0`): the
 * same admin API and /metrics as a cluster's primary serves, reading the
 * thread's own context instead of asking workers over ports. The thread
 * is worker 0 (client ids `0-rtmp-5`).
 */
import type { StreamDirectory } from '../cluster/directory.js';
import type { RedisDirectory } from '../cluster/redis-directory.js';
import type { ServerContext } from '../app/context.js';
import type { SlabPool } from '../core/slab-pool.js';
import { AdminApi } from './admin-api.js';
import { ClusterMetrics } from './metrics.js';
import { workerSnapshot } from './snapshot.js';
import { answerRequest } from './worker-control.js';

export function localControl(ctx: ServerContext, directory: Pick<StreamDirectory, 'list'>, pool: SlabPool, crossNode?: RedisDirectory): { api: AdminApi; metrics: ClusterMetrics } {
  const snapshots = async (opts?: { clients?: boolean }) => [workerSnapshot(ctx, opts?.clients ?? true)];
  const api = new AdminApi({
    directory,
    snapshots,
    request: async (worker, m) => (worker === ctx.workerId ? answerRequest(ctx, m) : undefined),
  });
  const metrics = new ClusterMetrics({ snapshots: () => snapshots({ clients: false }), workerIds: () => [ctx.workerId], restarts: () => 0, slabs: () => pool.stats(),
    ...(crossNode ? { crossNode: () => crossNode.stats() } : {}) });
  return { api, metrics };
}

/**
 * The directory link of a single-process server: the directory runs in the
 * same thread. Events are delivered on a microtask so the directory is
 * never re-entered from inside one of its own calls.
 */
import type { SlabPool } from '../core/slab-pool.js';
import { StreamDirectory, type DirectoryOptions } from './directory.js';
import type { DirectoryLink } from './worker-hub.js';
import { WorkerHub } from './worker-hub.js';
import type { StreamOptions } from '../media/types.js';
import type { PublishGrant } from './messages.js';
import type { RedisDirectory } from './redis-directory.js';

export function localCluster(
  pool: SlabPool,
  opts: DirectoryOptions,
  streamOptions: StreamOptions,
  /** The cross-node directory (cluster.redis), if any. */
  crossNode?: RedisDirectory,
): { directory: StreamDirectory; hub: WorkerHub } {
  const WORKER = 0;
  let hub: WorkerHub | undefined;
  const directory = new StreamDirectory(pool, opts, (_w, e) => queueMicrotask(() => hub!.onEvent(e)));
  const link: DirectoryLink = {
    publish: async (key, ip, claim) => {
      const grant = () => directory.publish(key, WORKER, ip);
      if (!claim || !crossNode) return grant();
      let result: PublishGrant | undefined;
      await crossNode.claimFor(key, () => (result = grant()), (refusal) => (result = refusal), () => directory.yieldPull(key));
      return result!;
    },
    locate: async (key) => crossNode?.locate(key),
    subscribe: async (key, query) => directory.subscribe(key, WORKER, query),
    unpublish: (id) => directory.unpublish(id, WORKER),
    release: (id) => directory.release(id, WORKER),
    watched: (id, _key, yes) => directory.watched(id, WORKER, yes),
    pullEnded: (id, _key, reason) => directory.pullEnded(id, WORKER, reason),
  };
  if (crossNode) directory.onPublishEnd = (key) => crossNode.released(key);
  hub = new WorkerHub(WORKER, link, streamOptions);
  return { directory, hub };
}

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

export function localCluster(pool: SlabPool, opts: DirectoryOptions, streamOptions: StreamOptions): { directory: StreamDirectory; hub: WorkerHub } {
  const WORKER = 0;
  let hub: WorkerHub | undefined;
  const directory = new StreamDirectory(pool, opts, (_w, e) => queueMicrotask(() => hub!.onEvent(e)));
  const link: DirectoryLink = {
    publish: async (key, ip) => directory.publish(key, WORKER, ip),
    subscribe: async (key, query) => directory.subscribe(key, WORKER, query),
    unpublish: (id) => directory.unpublish(id, WORKER),
    release: (id) => directory.release(id, WORKER),
    watched: (id, _key, yes) => directory.watched(id, WORKER, yes),
    pullEnded: (id, _key, reason) => directory.pullEnded(id, WORKER, reason),
  };
  hub = new WorkerHub(WORKER, link, streamOptions);
  return { directory, hub };
}

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
    publish: async (key) => directory.publish(key, WORKER),
    subscribe: async (key) => directory.subscribe(key, WORKER),
    unpublish: (id) => directory.unpublish(id, WORKER),
    release: (id) => directory.release(id, WORKER),
  };
  hub = new WorkerHub(WORKER, link, streamOptions);
  return { directory, hub };
}

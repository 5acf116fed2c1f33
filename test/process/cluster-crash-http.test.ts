// A worker thread that ends with any uWebSockets.js socket open aborts the
// whole process (uv_loop_close with open handles). A crash drill with idle
// keep-alive HTTP connections on every worker: the process (this test
// process, which hosts the cluster) must survive and the worker be replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { closeCluster, startTestCluster } from '../helpers/servers.js';
import { sleep, waitFor } from '../helpers/net.js';
import { idleHttpConnections } from '../helpers/raw-http.js';

test('a worker crash with idle keep-alive HTTP connections open does not take the process down', { timeout: 20000 }, async () => {
  const cluster = await startTestCluster({ cluster: { workers: 2, crashHook: true }, media: { playWaitMs: 0 } });
  let sockets: net.Socket[] = [];
  try {
    sockets = await idleHttpConnections(cluster.httpPort!, 10);
    const [victim, survivor] = cluster.supervisor.workerIds();
    cluster.supervisor.crash(victim!, 'crash drill with idle HTTP connections');
    await waitFor(() => cluster.supervisor.restarts === 1 && cluster.ready(), 3000, 'worker replaced');
    const ids = cluster.supervisor.workerIds();
    assert.ok(!ids.includes(victim!) && ids.includes(survivor!), `workers now ${ids.join(',')}`);
    await sleep(200);
    // The replacement serves HTTP.
    const r = await fetch(`http://127.0.0.1:${cluster.httpPort}/live/none.flv`);
    assert.equal(r.status, 404);
  } finally {
    for (const s of sockets) s.destroy();
    await closeCluster(cluster);
  }
});

// A worker stuck in a busy loop keeps its SO_REUSEPORT fd, so the kernel
// would keep handing it 1/N of new connections: the primary notices the
// missing heartbeats, reports the cluster unready, closes the stuck
// thread's uWS sockets from inside it (terminating a thread with one open
// aborts the process, and this test process is the primary) and replaces it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { closeCluster, startTestCluster } from '../helpers/servers.js';
import { sleep, waitFor } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { idleHttpConnections } from '../helpers/raw-http.js';

const HEARTBEAT = { heartbeatMs: 100, heartbeatTimeoutMs: 500 };

test('a worker stuck in a busy loop is reported unready, stopped without taking the process down, and replaced', { timeout: 30000 }, async () => {
  const cluster = await startTestCluster({ cluster: { workers: 2, crashHook: true, ...HEARTBEAT }, media: { playWaitMs: 0 } });
  const pool = new RtmpClientPool();
  let sockets: net.Socket[] = [];
  try {
    sockets = await idleHttpConnections(cluster.httpPort!, 16);
    const [victim, survivor] = cluster.supervisor.workerIds();
    const closedByVictim = sockets.map((s) => new Promise<boolean>((resolve) => s.once('close', () => resolve(true))));
    cluster.supervisor.hang(victim!, 60000);
    await waitFor(() => !cluster.ready(), 3000, 'stuck worker reported unready');
    await waitFor(() => cluster.supervisor.restarts === 1 && cluster.ready(), 8000, 'stuck worker replaced');
    const ids = cluster.supervisor.workerIds();
    assert.ok(!ids.includes(victim!) && ids.includes(survivor!), `workers now ${ids.join(',')}`);
    // The stuck thread's keep-alive connections were closed (from inside it); the survivor's stay open.
    const closed = await Promise.all(closedByVictim.map((p) => Promise.race([p, sleep(500).then(() => false)])));
    assert.ok(closed.some(Boolean), 'the stuck worker closed its HTTP connections');
    assert.ok(!closed.every(Boolean), 'the healthy worker kept its HTTP connections');
    // No new connection goes to a dead fd: every one gets its connect answered.
    for (let i = 0; i < 12; i++) await pool.connect(rtmpUrl(cluster.rtmpPort));
    assert.equal((await fetch(`http://127.0.0.1:${cluster.httpPort}/live/none.flv`)).status, 404);
  } finally {
    pool.closeAll();
    for (const s of sockets) s.destroy();
    await closeCluster(cluster);
  }
});

test("the primary's own stall is not blamed on the workers", { timeout: 20000 }, async () => {
  const cluster = await startTestCluster({ cluster: { workers: 2, ...HEARTBEAT } });
  try {
    await sleep(300);
    // Block the primary (this thread) for three heartbeat timeouts: heartbeats queue up unread.
    const until = Date.now() + 1500;
    while (Date.now() < until);
    await sleep(800);
    assert.equal(cluster.supervisor.restarts, 0);
    assert.ok(cluster.ready());
  } finally {
    await closeCluster(cluster);
  }
});

/**
 * The stream directory at its limits, in a real two-worker cluster whose
 * primary is this test process (if the directory threw in the primary, the
 * test process itself would die). HTTP-FLV requests for random names each
 * wait for a publisher; they must not use up the stream slabs, and
 * publishes past the limit get a clear RTMP refusal, then room when a
 * stream ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { RtmpStatusError } from '../../src/rtmp/client/rtmp-client.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { closeCluster, startTestCluster } from '../helpers/servers.js';
import { sleep, waitFor } from '../helpers/net.js';

const MAX = 3;

/** GET of an .flv path: resolves with the status once the server answers (a waiting player waits first). */
function flvStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

test('a flood of waits for random names at maxStreams, then publishes: the primary lives, waits take no slab, publishes succeed up to the limit, then a clear refusal, then room again', { timeout: 30000 }, async () => {
  const cluster = await startTestCluster({ media: { maxStreams: MAX, playWaitMs: 150, republishGraceMs: 0 } });
  const pool = new RtmpClientPool();
  try {
    const port = cluster.httpPort!;
    // Waves of waits: each wave's entries end (and their slabs, under the old accounting, were still
    // being released) while the next wave arrives.
    const statuses: number[] = [];
    let n = 0;
    for (let wave = 0; wave < 8; wave++) {
      const wait = Promise.all(Array.from({ length: MAX * 3 }, () => flvStatus(port, `/live/rand-${n++}.flv`)));
      await sleep(60);
      assert.equal(cluster.pool.stats().inUse, 0, `wave ${wave}: waiting players hold no slab`);
      statuses.push(...(await wait));
    }
    assert.ok(statuses.every((s) => s === 404 || s === 503), `only not-found or busy answers: ${[...new Set(statuses)].join(',')}`);
    assert.ok(statuses.includes(503), 'waits past maxStreams are refused as busy');

    // Waits in flight while publishing: the publishes do not compete with them for slabs.
    const flood = Promise.all(Array.from({ length: MAX * 2 }, () => flvStatus(port, `/live/rand-${n++}.flv`)));
    const url = rtmpUrl(cluster.rtmpPort);
    const pubs = [];
    for (let i = 0; i < MAX; i++) {
      const c = await pool.connect(url);
      await c.publish(`s${i}`);
      pubs.push(c);
    }
    const extra = await pool.connect(url);
    const refused = await extra.publish('one-too-many').then(
      () => assert.fail('a publish past media.maxStreams was accepted'),
      (err: unknown) => err,
    );
    assert.ok(refused instanceof RtmpStatusError, String(refused));
    assert.equal(refused.status.code, 'NetStream.Publish.Failed');
    assert.match(String(refused.status.description), /media\.maxStreams = 3/);
    await flood;

    // One publisher leaves; its slab comes back once both workers let go, and a new publish gets it.
    pubs[0]!.destroy();
    await waitFor(() => cluster.pool.stats().inUse < MAX, 3000, 'slab of the ended stream released');
    const again = await pool.connect(url);
    await again.publish('later');
    assert.equal(cluster.directory.homeOf('live/later') !== undefined, true);
    assert.ok(cluster.ready(), 'cluster still ready');
  } finally {
    pool.closeAll();
    await closeCluster(cluster);
  }
});

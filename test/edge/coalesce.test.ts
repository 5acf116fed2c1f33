// One upstream per stream per node: 50 players (RTMP and HTTP-FLV) arriving
// at once on a 2-worker edge make the edge open exactly one play at the origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeCluster, closeServer, startTestCluster, startTestServer } from '../helpers/servers.js';
import { waitFor } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import { getFlv } from '../helpers/flv-players.js';
import { playersPerWorker } from '../helpers/cluster-placement.js';
import type { RunningServer } from '../../src/process/single.js';

const originPlayers = (s: RunningServer): number => [...s.ctx.sessions.values()].filter((x) => x.info().role === 'player').length;

test('50 players arriving at once on 2 workers share one upstream', { timeout: 30000 }, async () => {
  const origin = await startTestServer({ player: { mergeWriteMs: 0 } });
  const edge = await startTestCluster({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`] }, player: { mergeWriteMs: 0 } });
  const pool = new RtmpClientPool();
  const flvs = Array.from({ length: 10 }, () => getFlv(`http://127.0.0.1:${edge.httpPort}/live/cam.flv`));
  try {
    const pub = await pool.publisher(rtmpUrl(origin.rtmpPort), 'cam');
    pub.headers();
    pub.start();
    const clients = await Promise.all(Array.from({ length: 40 }, () => pool.connect(rtmpUrl(edge.rtmpPort))));
    const recs = clients.map((c) => new Recorder(c));
    await Promise.all(clients.map((c) => c.play('cam')));
    const target = pub.nextN + 5;
    for (const r of recs) await r.frame(target, 8000);
    await waitFor(() => flvs.every((f) => f.flv.tags.filter((t) => t.type === 9).length > 5), 8000, 'http-flv players get video');
    assert.equal(originPlayers(origin), 1, 'exactly one upstream at the origin');
    assert.equal(origin.ctx.counters.playsTotal, 1, 'and never a second play at the origin');
    const perWorker = await playersPerWorker(edge, 'live/cam');
    assert.equal([...perWorker.values()].reduce((a, b) => a + b, 0), 50, 'every player attached');
    assert.ok([...perWorker.values()].every((n) => n > 0), `players on both workers: ${JSON.stringify([...perWorker])}`);
    for (const [i, r] of recs.entries()) {
      const v = r.video();
      assert.equal(v[0]!.kind, 'key', `player ${i}: keyframe first`);
      for (let k = 1; k < v.length; k++) assert.equal(v[k]!.n, v[k - 1]!.n + 1, `player ${i}: contiguous`);
    }
    assert.equal(edge.directory.list().find((e) => e.key === 'live/cam')?.state, 'live');
  } finally {
    for (const f of flvs) f.close();
    pool.closeAll();
    await closeCluster(edge);
    await closeServer(origin);
  }
});

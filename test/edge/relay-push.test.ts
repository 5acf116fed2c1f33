// Relay push: a matching stream is republished to every destination, each
// on its own: one that is down neither stalls the others nor local players.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { freePort, sleep } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';

test('relay push to two destinations, one of them down: the other and local players are unaffected', { timeout: 20000 }, async () => {
  const dest = await startTestServer({ player: { mergeWriteMs: 0 }, rtmp: { publishNotify: true } });
  const downPort = await freePort();
  const src = await startTestServer({
    player: { mergeWriteMs: 0 },
    edge: { retry: { minMs: 50, maxMs: 200 }, connectTimeoutMs: 500 },
    relay: { push: [{ match: 'live/*', to: [`rtmp://127.0.0.1:${downPort}/live`, `rtmp://127.0.0.1:${dest.rtmpPort}`] }] },
  });
  const pool = new RtmpClientPool();
  try {
    const pub = await pool.publisher(rtmpUrl(src.rtmpPort), 'cam');
    pub.headers();
    pub.start();
    const local = await pool.connect(rtmpUrl(src.rtmpPort));
    const remote = await pool.connect(rtmpUrl(dest.rtmpPort));
    const rl = new Recorder(local);
    const rr = new Recorder(remote);
    await local.play('cam');
    await remote.play('cam');
    await rl.frame(pub.nextN + 10, 5000);
    await rr.frame(pub.nextN + 10, 5000);
    for (const [r, what] of [[rl, 'local player'], [rr, 'player at the destination']] as const) {
      const v = r.video();
      assert.equal(v[0]!.kind, 'key', `${what}: keyframe first`);
      for (let k = 1; k < v.length; k++) assert.equal(v[k]!.n, v[k - 1]!.n + 1, `${what}: contiguous`);
    }
    const ups = src.ctx.upstreams!.list();
    assert.equal(ups.length, 2);
    const byTarget = new Map(ups.map((u) => [u.origin, u]));
    assert.equal(byTarget.get(`rtmp://127.0.0.1:${dest.rtmpPort}`)?.state, 'publishing');
    const down = byTarget.get(`rtmp://127.0.0.1:${downPort}/live`);
    assert.notEqual(down?.state, 'publishing');
    await sleep(300);
    assert.ok(src.ctx.upstreams!.list().find((u) => u.origin?.includes(String(downPort)))!.reconnects >= 1, 'the dead destination is retried');
    // Not relayed: names outside the rule.
    await pool.publisher(rtmpUrl(src.rtmpPort, 'other'), 'cam');
    assert.equal(src.ctx.upstreams!.list().length, 2);
    // The publish ends: its pushes end too.
    pub.c.destroy();
    await rr.status('NetStream.Play.UnpublishNotify', 5000);
  } finally {
    pool.closeAll();
    await closeServer(src);
    await closeServer(dest);
  }
});

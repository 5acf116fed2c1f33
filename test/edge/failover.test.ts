// Origin failover: the first origin dies mid-stream; the edge's players stay
// connected and continue from the second origin with monotonic timestamps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { waitFor } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import { getFlv } from '../helpers/flv-players.js';
import { counterOf } from '../helpers/synthetic-media.js';
import { assertMonotonicPerTrack } from '../helpers/tag-asserts.js';

const SECOND = 100000;

test('players stay attached across an origin dying mid-stream and continue from the next origin', { timeout: 30000 }, async () => {
  const o1 = await startTestServer({ player: { mergeWriteMs: 0 } });
  const o2 = await startTestServer({ player: { mergeWriteMs: 0 } });
  const o2Url = `rtmp://127.0.0.1:${o2.rtmpPort}`;
  const edge = await startTestServer({
    mode: 'edge',
    edge: { origins: [`rtmp://127.0.0.1:${o1.rtmpPort}`, o2Url], retry: { minMs: 50, maxMs: 200 } },
    player: { mergeWriteMs: 0 },
  });
  const pool = new RtmpClientPool();
  const flv = getFlv(`http://127.0.0.1:${edge.httpPort}/live/cam.flv`);
  try {
    const p1 = await pool.publisher(rtmpUrl(o1.rtmpPort), 'cam', { counterBase: 0 });
    const p2 = await pool.publisher(rtmpUrl(o2.rtmpPort), 'cam', { counterBase: SECOND });
    for (const p of [p1, p2]) {
      p.headers();
      p.start();
    }
    const player = await pool.connect(rtmpUrl(edge.rtmpPort));
    const rec = new Recorder(player);
    await player.play('cam');
    await rec.frame(p1.nextN + 3, 5000);
    assert.ok(rec.video().every((e) => e.n < SECOND), 'first from origin 1');
    await closeServer(o1);
    await waitFor(() => rec.video().some((e) => e.n >= SECOND + 5), 10000, 'frames from origin 2');
    await waitFor(() => flv.flv.tags.some((t) => t.type === 9 && counterOf(t) >= SECOND + 5), 10000, 'http-flv frames from origin 2');
    assert.equal(player.isClosed, false, 'the RTMP player was not disconnected');
    for (const code of ['NetStream.Play.Stop', 'NetStream.Play.StreamNotFound', 'NetStream.Play.UnpublishNotify']) {
      assert.equal(rec.statusIndex(code), -1, `no ${code}`);
    }
    const media = rec.media().map((e) => ({ type: e.type, ts: e.ts, data: e.data }));
    assertMonotonicPerTrack(media, 'rtmp player across the switch');
    assertMonotonicPerTrack(flv.flv.tags, 'http-flv player across the switch');
    const [up] = edge.ctx.upstreams!.list();
    assert.equal(up?.origin, o2Url);
    assert.equal(up?.state, 'playing');
    assert.ok(up!.reconnects >= 1);
  } finally {
    flv.close();
    pool.closeAll();
    await closeServer(edge);
    await closeServer(o2);
    await closeServer(o1).catch(() => undefined);
  }
});

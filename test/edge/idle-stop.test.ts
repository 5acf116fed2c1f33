// Idle stop: the upstream closes edge.idleStopMs after the last player left;
// a player inside that window reuses it; a later one starts a new pull.
// And a stream no origin has is answered StreamNotFound / 404 after edge.playWaitMs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { sleep, waitFor } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import { RtmpStatusError } from '../../src/rtmp/client/rtmp-client.js';

test('an unwatched upstream closes after idleStopMs; a player within the window reuses it', { timeout: 20000 }, async () => {
  const origin = await startTestServer({ player: { mergeWriteMs: 0 } });
  const edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`], idleStopMs: 400 } });
  const pool = new RtmpClientPool();
  const watch = async (): Promise<void> => {
    const c = await pool.connect(rtmpUrl(edge.rtmpPort));
    const r = new Recorder(c);
    await c.play('cam');
    await r.frame(pub.nextN + 2, 5000);
    c.destroy();
  };
  const pub = await pool.publisher(rtmpUrl(origin.rtmpPort), 'cam');
  try {
    pub.headers();
    pub.start();
    await watch();
    await sleep(100);
    await watch(); // inside the idle window
    assert.equal(origin.ctx.counters.playsTotal, 1, 'the second player reused the upstream');
    await waitFor(() => edge.ctx.upstreams!.list().length === 0, 5000, 'upstream closed after idleStopMs');
    await waitFor(() => [...origin.ctx.sessions.values()].every((s) => s.info().role !== 'player'), 5000, 'origin play ended');
    await watch(); // after: a new pull
    assert.equal(origin.ctx.counters.playsTotal, 2);
  } finally {
    pool.closeAll();
    await closeServer(edge);
    await closeServer(origin);
  }
});

test('a stream no origin has: StreamNotFound and 404 after edge.playWaitMs', { timeout: 20000 }, async () => {
  const origin = await startTestServer({ media: { playWaitMs: 0 } });
  const edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`], playWaitMs: 500, retry: { minMs: 50, maxMs: 100 } } });
  const pool = new RtmpClientPool();
  try {
    const c = await pool.connect(rtmpUrl(edge.rtmpPort));
    const rec = new Recorder(c);
    const t0 = Date.now();
    // Like a standalone server's awaited name: Play.Start, then StreamNotFound when no origin delivered.
    await c.play('nothing').catch((err: unknown) => assert.ok(err instanceof RtmpStatusError && err.status.code === 'NetStream.Play.StreamNotFound'));
    await rec.status('NetStream.Play.StreamNotFound', 5000);
    const rtmpMs = Date.now() - t0;
    const t1 = Date.now();
    const res = await fetch(`http://127.0.0.1:${edge.httpPort}/live/nothing2.flv`);
    const httpMs = Date.now() - t1;
    assert.equal(res.status, 404);
    for (const [what, ms] of [['rtmp', rtmpMs], ['http', httpMs]] as const) assert.ok(ms >= 300 && ms < 4000, `${what} answered after ${ms} ms`);
  } finally {
    pool.closeAll();
    await closeServer(edge);
    await closeServer(origin);
  }
});

/**
 * The HLS memory bound and idle stop (src/http/hls-service.ts): 20 streams
 * watched over HLS whose windows would need about twice hls.maxMemoryBytes
 * stay under it (the largest stream gives up its oldest segment, at every
 * new part); a stream nobody asks for any more is freed after idleStopMs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { sleep, waitFor } from '../helpers/net.js';
import { request } from './hls-client.js';

const STREAMS = 20;
const BOUND = 4 * 1024 * 1024;

test(`${STREAMS} streams watched over HLS stay under hls.maxMemoryBytes; an idle one is freed`, { timeout: 60_000 }, async () => {
  const srv = await startTestServer({ hls: { segmentMs: 1000, partMs: 250, windowSegments: 8, maxMemoryBytes: BOUND, idleStopMs: 2000 } });
  const rtmp = new RtmpClientPool();
  try {
    // 2500-byte frames at 25 fps: ~64 KB a second a stream, so 20 full windows of 8 s would be ~10 MB.
    const pubs = await Promise.all(Array.from({ length: STREAMS }, (_, i) => rtmp.publisher(rtmpUrl(srv.rtmpPort), `m${i}`, { gop: 25, frameMs: 40, videoBytes: 2500 })));
    for (const p of pubs) {
      p.headers();
      p.start();
    }
    const hls = () => srv.ctx.hls!.stats();
    const ask = (i: number) => request(`http://127.0.0.1:${srv.httpPort}/live/m${i}.fmp4.m3u8`);
    const answers = await Promise.all(pubs.map((_, i) => ask(i)));
    assert.deepEqual(answers.map((a) => a.status), answers.map(() => 200), answers.map((a) => a.body.toString()).join(' '));
    assert.equal(hls().memoryBoundBytes, BOUND, 'one thread holds the whole bound');
    let most = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 9000) {
      // Keep every stream watched (first 19), sample what is held.
      if ((Date.now() - t0) % 1000 < 120) await Promise.all(pubs.slice(0, STREAMS - 1).map((_, i) => ask(i)));
      most = Math.max(most, hls().heldBytes);
      assert.ok(hls().heldBytes <= BOUND, `held ${hls().heldBytes} > bound ${BOUND}`);
      await sleep(50);
    }
    assert.ok(hls().trimmed > 0, 'the bound had to trim (the test would pass without one otherwise)');
    assert.ok(most > BOUND * 0.75, `held up to ${most} bytes: near the bound, not far below`);
    // The last stream was asked once only: freed after idleStopMs (plus a sweep).
    assert.equal(hls().streams, STREAMS - 1, 'the stream asked only once was freed after idleStopMs');
    await waitFor(() => hls().streams === 0, 6000, 'every stream freed once nobody asks', 100);
    assert.equal(hls().heldBytes, 0);
  } finally {
    rtmp.closeAll();
    await closeServer(srv);
  }
});

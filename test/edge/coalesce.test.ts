// Coalescing at the edge across protocols and workers: 50 players (RTMP,
// HTTP-FLV and WS-FLV) arrive at a 2-worker edge all at once, before the
// edge has the stream. The directory elects one puller, so the origin sees
// exactly one play, and every player, on either worker and whatever its
// protocol, gets the stream from a keyframe with no frame missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeCluster, closeServer, startTestCluster, startTestServer } from '../helpers/servers.js';
import { waitFor } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import { getFlv, wsFlv, type HttpFlvPlayer, type WsFlvPlayer } from '../helpers/flv-players.js';
import { counterOf, isKey } from '../helpers/synthetic-media.js';
import { playersPerWorker } from '../helpers/cluster-placement.js';
import type { FlvTag } from '../helpers/flv-collector.js';
import type { RunningServer } from '../../src/process/single.js';
import type { RunningCluster } from '../../src/process/primary.js';

const RTMP_PLAYERS = 30;
const HTTP_PLAYERS = 10;
const WS_PLAYERS = 10;
const TOTAL = RTMP_PLAYERS + HTTP_PLAYERS + WS_PLAYERS;
/** Video frames every player must have before the checks. */
const ENOUGH = 10;

const originPlayers = (s: RunningServer): number => [...s.ctx.sessions.values()].filter((x) => x.info().role === 'player').length;

/** Video frames (not sequence headers) of an FLV player. */
const flvVideo = (tags: FlvTag[]): FlvTag[] => tags.filter((t) => t.type === 9 && counterOf(t) >= 0);

test('50 RTMP, HTTP-FLV and WS-FLV players arriving at once on a 2-worker edge share one upstream', { timeout: 15000 }, async () => {
  let origin: RunningServer | undefined;
  let edge: RunningCluster | undefined;
  const pool = new RtmpClientPool();
  const flvs: HttpFlvPlayer[] = [];
  const wss: WsFlvPlayer[] = [];
  try {
    origin = await startTestServer({ player: { mergeWriteMs: 0 } });
    edge = await startTestCluster({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`] }, player: { mergeWriteMs: 0 } });
    const pub = await pool.publisher(rtmpUrl(origin.rtmpPort), 'cam');
    pub.headers();
    pub.start();
    assert.equal(edge.directory.list().length, 0, 'the edge has nothing before its first player');

    // Everyone at once: no await between the arrivals.
    const flvUrl = `http://127.0.0.1:${edge.httpPort}/live/cam.flv`;
    const rtmpArrivals: Promise<Recorder>[] = [];
    for (let i = 0; i < TOTAL; i++) {
      if (i % 5 === 1 && flvs.length < HTTP_PLAYERS) flvs.push(getFlv(flvUrl));
      else if (i % 5 === 3 && wss.length < WS_PLAYERS) wss.push(wsFlv(flvUrl.replace('http:', 'ws:')));
      else
        rtmpArrivals.push(
          pool.connect(rtmpUrl(edge.rtmpPort)).then(async (c) => {
            const r = new Recorder(c);
            await c.play('cam');
            return r;
          }),
        );
    }
    assert.equal(rtmpArrivals.length, RTMP_PLAYERS);
    const [recs] = await Promise.all([Promise.all(rtmpArrivals), Promise.all(flvs.map((f) => f.res)), Promise.all(wss.map((w) => w.opened))]);

    await waitFor(
      () => recs.every((r) => r.video().length >= ENOUGH) && [...flvs, ...wss].every((p) => flvVideo(p.flv.tags).length >= ENOUGH),
      10000,
      `every player has ${ENOUGH} video frames`,
    );

    // One upstream for all of them: one playing session at the origin, and only ever one play.
    assert.equal(originPlayers(origin), 1, 'exactly one playing session at the origin');
    assert.equal(origin.ctx.counters.playsTotal, 1, 'the origin never saw a second play');
    const listed = edge.directory.list().find((e) => e.key === 'live/cam');
    assert.equal(listed?.state, 'live', 'the directory has live/cam live');

    // The players are spread over both workers (the kernel's choice per connection: 50 of them on one is ~2^-49).
    const perWorker = await playersPerWorker(edge, 'live/cam');
    assert.equal(perWorker.size, 2, 'two workers report');
    assert.equal([...perWorker.values()].reduce((a, b) => a + b, 0), TOTAL, `every player attached: ${JSON.stringify([...perWorker])}`);
    for (const [w, n] of perWorker) assert.ok(n > 0, `worker ${w} has players: ${JSON.stringify([...perWorker])}`);

    // Every player: a keyframe first, then every frame, in order.
    for (const [i, r] of recs.entries()) {
      const v = r.video();
      assert.equal(v[0]!.kind, 'key', `rtmp player ${i}: keyframe first`);
      for (let k = 1; k < v.length; k++) assert.equal(v[k]!.n, v[k - 1]!.n + 1, `rtmp player ${i}: contiguous at ${k}`);
      assert.equal(r.closed, false, `rtmp player ${i} still connected`);
    }
    for (const [what, players] of [['http-flv', flvs], ['ws-flv', wss]] as const) {
      for (const [i, p] of players.entries()) {
        const v = flvVideo(p.flv.tags);
        assert.ok(isKey(v[0]!), `${what} player ${i}: keyframe first`);
        for (let k = 1; k < v.length; k++) assert.equal(counterOf(v[k]!), counterOf(v[k - 1]!) + 1, `${what} player ${i}: contiguous at ${k}`);
      }
    }
    for (const [i, w] of wss.entries()) assert.equal(w.textMessages, 0, `ws-flv player ${i}: binary messages only`);
  } finally {
    for (const f of flvs) f.close();
    for (const w of wss) w.close();
    pool.closeAll();
    await closeCluster(edge);
    await closeServer(origin);
  }
});

// An edge pulls on demand: the first player of a stream the edge does not
// have makes it play the stream from its origin, once, and serve it as an
// ordinary local stream to RTMP and HTTP-FLV players alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { waitFor } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import { getFlv } from '../helpers/flv-players.js';
import { counterOf } from '../helpers/synthetic-media.js';
import { assertMonotonicPerTrack } from '../helpers/tag-asserts.js';
import type { RunningServer } from '../../src/process/single.js';

const originPlayers = (s: RunningServer): number => [...s.ctx.sessions.values()].filter((x) => x.info().role === 'player').length;

test('an edge pulls a stream from its origin for its first player and serves every player from one upstream', { timeout: 20000 }, async () => {
  const origin = await startTestServer({ player: { mergeWriteMs: 0 } });
  const edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`] }, player: { mergeWriteMs: 0 } });
  const pool = new RtmpClientPool();
  const flv = getFlv(`http://127.0.0.1:${edge.httpPort}/live/cam.flv`);
  try {
    const pub = await pool.publisher(rtmpUrl(origin.rtmpPort), 'cam', { gop: 10 });
    pub.headers();
    pub.start();
    const players = await Promise.all([0, 1, 2].map(() => pool.connect(rtmpUrl(edge.rtmpPort))));
    const recs = players.map((c) => new Recorder(c));
    await Promise.all(players.map((c) => c.play('cam')));
    for (const r of recs) await r.frame(pub.nextN + 5, 5000);
    await waitFor(() => flv.flv.tags.filter((t) => t.type === 9).length > 10, 5000, 'http-flv frames at the edge');
    assert.equal(originPlayers(origin), 1, 'one upstream at the origin');
    for (const [i, r] of recs.entries()) {
      const video = r.video();
      assert.equal(video[0]!.kind, 'key', `player ${i} starts on a keyframe`);
      for (let k = 1; k < video.length; k++) assert.equal(video[k]!.n, video[k - 1]!.n + 1, `player ${i}: contiguous frames`);
    }
    const tags = flv.flv.tags;
    assert.equal(tags[0]!.type, 18, 'metadata first');
    const frames = tags.filter((t) => t.type === 9 && counterOf(t) >= 0);
    for (let k = 1; k < frames.length; k++) assert.equal(counterOf(frames[k]!), counterOf(frames[k - 1]!) + 1, 'http-flv: contiguous frames');
    assertMonotonicPerTrack(tags, 'http-flv at the edge');
  } finally {
    flv.close();
    pool.closeAll();
    await closeServer(edge);
    await closeServer(origin);
  }
});

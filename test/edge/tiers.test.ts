// Three tiers: origin (standalone) <- edge1 (pulls from the origin) <- edge2
// (pulls from edge1). A player at edge2 gets the stream from a keyframe with
// no frame missing; each tier above sees exactly one player, the upstream
// of the tier below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import type { RunningServer } from '../../src/process/single.js';

const players = (s: RunningServer): number => [...s.ctx.sessions.values()].filter((x) => x.info().role === 'player').length;

test('origin <- edge1 <- edge2: a player at edge2 gets the stream through one upstream per tier', { timeout: 15000 }, async () => {
  let origin: RunningServer | undefined;
  let edge1: RunningServer | undefined;
  let edge2: RunningServer | undefined;
  const pool = new RtmpClientPool();
  try {
    origin = await startTestServer({ player: { mergeWriteMs: 0 } });
    edge1 = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`] }, player: { mergeWriteMs: 0 } });
    edge2 = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${edge1.rtmpPort}`] }, player: { mergeWriteMs: 0 } });

    const pub = await pool.publisher(rtmpUrl(origin.rtmpPort), 'cam', { gop: 10 });
    pub.headers();
    pub.start();

    const c = await pool.connect(rtmpUrl(edge2.rtmpPort));
    const rec = new Recorder(c);
    await c.play('cam');
    await rec.frame(pub.nextN + 12, 6000);

    const video = rec.video();
    assert.ok(video.length >= 12, `${video.length} video frames at edge2`);
    assert.equal(video[0]!.kind, 'key', 'edge2 player starts on a keyframe');
    for (let k = 1; k < video.length; k++) assert.equal(video[k]!.n, video[k - 1]!.n + 1, `contiguous frames after ${video[k - 1]!.n}`);
    for (const f of video) assert.ok(pub.videoData(f.n)?.equals(f.data), `frame ${f.n} byte-for-byte`);

    assert.equal(players(origin), 1, 'origin: one player session (edge1 upstream)');
    assert.equal(players(edge1), 1, 'edge1: one player session (edge2 upstream)');
    assert.equal(players(edge2), 1, 'edge2: our player');
    assert.equal(origin.ctx.counters.playsTotal, 1, 'origin: one play ever');
    assert.equal(edge1.ctx.counters.playsTotal, 1, 'edge1: one play ever');

    const up1 = edge1.ctx.upstreams!.list();
    const up2 = edge2.ctx.upstreams!.list();
    assert.equal(up1.length, 1, 'edge1: one upstream');
    assert.equal(up2.length, 1, 'edge2: one upstream');
    assert.deepEqual(
      [up1[0]!.streamKey, up1[0]!.kind, up1[0]!.state, up1[0]!.origin],
      ['live/cam', 'pull', 'playing', `rtmp://127.0.0.1:${origin.rtmpPort}`],
    );
    assert.deepEqual(
      [up2[0]!.streamKey, up2[0]!.kind, up2[0]!.state, up2[0]!.origin],
      ['live/cam', 'pull', 'playing', `rtmp://127.0.0.1:${edge1.rtmpPort}`],
    );
    assert.equal(origin.ctx.upstreams?.list().length ?? 0, 0, 'the standalone origin pulls nothing');
  } finally {
    pool.closeAll();
    await closeServer(edge2);
    await closeServer(edge1);
    await closeServer(origin);
  }
});

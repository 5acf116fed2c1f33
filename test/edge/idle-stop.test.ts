// Idle stop, as the origin sees it: the edge's play at the origin ends
// edge.idleStopMs after the edge's last player left, and a later player
// makes a new one; a player coming back inside the window keeps the very
// same play at the origin (same session, same peer port), and only one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { sleep, waitFor } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import type { RunningServer } from '../../src/process/single.js';
import type { SessionInfo } from '../../src/app/context.js';
import type { SyntheticPublisher } from '../helpers/synthetic-publisher.js';

const playing = (s: RunningServer): SessionInfo[] => [...s.ctx.sessions.values()].map((x) => x.info()).filter((i) => i.role === 'player');

/** A player at the edge that has received a few live frames. */
async function watcher(pool: RtmpClientPool, edge: RunningServer, pub: SyntheticPublisher): Promise<Recorder> {
  const c = await pool.connect(rtmpUrl(edge.rtmpPort));
  const r = new Recorder(c);
  await c.play('cam');
  await r.frame(pub.nextN + 3, 5000);
  return r;
}

test('the upstream stops edge.idleStopMs after the last player left; the next player pulls anew', { timeout: 15000 }, async () => {
  let origin: RunningServer | undefined;
  let edge: RunningServer | undefined;
  const pool = new RtmpClientPool();
  try {
    origin = await startTestServer({ player: { mergeWriteMs: 0 } });
    const o = origin;
    edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`], idleStopMs: 300 }, player: { mergeWriteMs: 0 } });
    const e = edge;
    const pub = await pool.publisher(rtmpUrl(origin.rtmpPort), 'cam');
    pub.headers();
    pub.start();

    const first = await watcher(pool, e, pub);
    const [up1] = e.ctx.upstreams!.list();
    assert.equal(up1?.state, 'playing');
    const [atOrigin1] = playing(o);
    assert.ok(atOrigin1, 'the edge plays at the origin');
    assert.equal(playing(o).length, 1);

    first.c.destroy();
    await waitFor(() => playing(o).length === 0, 5000, 'the edge stopped playing at the origin');
    await waitFor(() => e.ctx.upstreams!.list().length === 0, 5000, 'the edge has no upstream');
    assert.equal(o.ctx.sessions.has(atOrigin1.id), false, "the edge's session at the origin is gone");
    assert.equal(e.directory.list().find((x) => x.key === 'live/cam'), undefined, 'the edge forgot live/cam');

    // A new player: a new pull.
    const second = await watcher(pool, e, pub);
    const v = second.video();
    assert.equal(v[0]!.kind, 'key', 'the new pull starts its player on a keyframe');
    for (let k = 1; k < v.length; k++) assert.equal(v[k]!.n, v[k - 1]!.n + 1, 'contiguous');
    const ups = e.ctx.upstreams!.list();
    assert.equal(ups.length, 1, 'one upstream again');
    assert.equal(ups[0]!.state, 'playing');
    assert.ok(ups[0]!.since > up1!.since, 'a new upstream');
    const now = playing(o);
    assert.equal(now.length, 1, 'one play at the origin again');
    assert.notEqual(now[0]!.id, atOrigin1.id, 'a new session at the origin');
    assert.equal(o.ctx.counters.playsTotal, 2, 'two plays at the origin in all');
  } finally {
    pool.closeAll();
    await closeServer(edge);
    await closeServer(origin);
  }
});

test('a player back within edge.idleStopMs keeps the same upstream: one play at the origin, the same session', { timeout: 15000 }, async () => {
  let origin: RunningServer | undefined;
  let edge: RunningServer | undefined;
  const pool = new RtmpClientPool();
  const IDLE_MS = 500;
  try {
    origin = await startTestServer({ player: { mergeWriteMs: 0 } });
    const o = origin;
    edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`], idleStopMs: IDLE_MS }, player: { mergeWriteMs: 0 } });
    const e = edge;
    const pub = await pool.publisher(rtmpUrl(origin.rtmpPort), 'cam');
    pub.headers();
    pub.start();

    const first = await watcher(pool, e, pub);
    const before = playing(o);
    assert.equal(before.length, 1);
    const [up1] = e.ctx.upstreams!.list();

    first.c.destroy();
    await sleep(100);
    const again = await watcher(pool, e, pub);

    // Well past the idle window, with the player there all along.
    await sleep(IDLE_MS * 2 + 200);
    const seen = again.video().length;
    await waitFor(() => again.video().length >= seen + 5, 5000, 'the returning player keeps getting frames');
    assert.equal(again.closed, false);
    assert.equal(again.statusIndex('NetStream.Play.Stop'), -1, 'no Play.Stop');
    assert.equal(again.statusIndex('NetStream.Play.UnpublishNotify'), -1, 'no UnpublishNotify');

    const after = playing(o);
    assert.equal(after.length, 1, 'still exactly one play at the origin');
    assert.equal(after[0]!.id, before[0]!.id, 'the same session at the origin');
    assert.equal(after[0]!.peer, before[0]!.peer, 'the same upstream connection (peer ip:port)');
    assert.equal(o.ctx.counters.playsTotal, 1, 'the origin never saw a second play');
    const ups = e.ctx.upstreams!.list();
    assert.equal(ups.length, 1);
    assert.equal(ups[0]!.since, up1!.since, 'the same upstream at the edge');
    assert.equal(ups[0]!.reconnects, 0);
  } finally {
    pool.closeAll();
    await closeServer(edge);
    await closeServer(origin);
  }
});

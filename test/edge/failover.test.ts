// Origin failover as players see it: two origins carry live/cam from
// different encoders (frame counters 0... and 100000...), so every frame
// names its source. The first origin is killed mid-stream; the same RTMP
// and HTTP-FLV connections at the edge carry on with the second origin's
// frames: no status telling them the stream stopped, a keyframe first,
// nothing from the dead origin after the switch, timestamps never going back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { waitFor } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import { getFlv, type HttpFlvPlayer } from '../helpers/flv-players.js';
import { counterOf, isKey } from '../helpers/synthetic-media.js';
import { assertMonotonicPerTrack, type TagLike } from '../helpers/tag-asserts.js';
import type { RunningServer } from '../../src/process/single.js';

const SECOND = 100000;
const fromSecond = (n: number): boolean => n >= SECOND;

/**
 * Video frames of one player, as counters with their keyframe flag:
 * the first origin's run, then the second's, each from a keyframe and
 * contiguous, and never the first origin's after the second's began.
 */
function assertSwitch(video: { n: number; key: boolean }[], what: string): void {
  const at = video.findIndex((f) => fromSecond(f.n));
  assert.ok(at > 0, `${what}: frames from origin 1, then from origin 2 (switch at ${at} of ${video.length})`);
  const first = video.slice(0, at);
  const second = video.slice(at);
  assert.ok(second.every((f) => fromSecond(f.n)), `${what}: nothing from origin 1 after origin 2's first frame`);
  for (const [name, run] of [['origin 1', first], ['origin 2', second]] as const) {
    assert.ok(run[0]!.key, `${what}: ${name}'s frames start on a keyframe (#${run[0]!.n})`);
    for (let k = 1; k < run.length; k++) assert.equal(run[k]!.n, run[k - 1]!.n + 1, `${what}: ${name}'s frames contiguous at ${k}`);
  }
}

/** Largest forward step between consecutive video timestamps: a re-based switch is a frame or so, not the origins' offset. */
function maxVideoStep(tags: TagLike[]): number {
  const ts = tags.filter((t) => t.type === 9).map((t) => t.ts);
  let max = 0;
  for (let k = 1; k < ts.length; k++) max = Math.max(max, ts[k]! - ts[k - 1]!);
  return max;
}

/** Players at the edge across the death of origin 1; the origins' encoders started at `ts1` and `ts2`. */
async function failover(ts1: number, ts2: number): Promise<void> {
  let o1: RunningServer | undefined;
  let o2: RunningServer | undefined;
  let edge: RunningServer | undefined;
  let flv: HttpFlvPlayer | undefined;
  const pool = new RtmpClientPool();
  try {
    o1 = await startTestServer({ player: { mergeWriteMs: 0 } });
    o2 = await startTestServer({ player: { mergeWriteMs: 0 } });
    const o1Url = `rtmp://127.0.0.1:${o1.rtmpPort}`;
    const o2Url = `rtmp://127.0.0.1:${o2.rtmpPort}`;
    edge = await startTestServer({ mode: 'edge', edge: { origins: [o1Url, o2Url] }, player: { mergeWriteMs: 0 } });
    const p1 = await pool.publisher(rtmpUrl(o1.rtmpPort), 'cam', { counterBase: 0, startTs: ts1 });
    const p2 = await pool.publisher(rtmpUrl(o2.rtmpPort), 'cam', { counterBase: SECOND, startTs: ts2 });
    for (const p of [p1, p2]) {
      p.headers();
      p.start();
    }

    const player = await pool.connect(rtmpUrl(edge.rtmpPort));
    const rec = new Recorder(player);
    await player.play('cam');
    flv = getFlv(`http://127.0.0.1:${edge.httpPort}/live/cam.flv`);
    const http = flv;
    // Past the first GOP: origin 2 has a later keyframe to start the edge on.
    await rec.frame(p1.nextN + 15, 5000);
    await waitFor(() => http.flv.tags.filter((t) => t.type === 9 && counterOf(t) >= 0).length >= 5, 5000, 'http-flv frames from origin 1');
    const [before] = edge.ctx.upstreams!.list();
    assert.equal(before?.origin, o1Url, 'the first origin serves first');
    assert.equal(before?.reconnects, 0);
    assert.equal(o2.ctx.counters.playsTotal, 0, 'nothing asked origin 2 yet');
    assert.ok(rec.video().every((e) => !fromSecond(e.n)), 'rtmp: only origin 1 so far');

    // Kill origin 1 mid-stream.
    await closeServer(o1);
    o1 = undefined;

    await waitFor(() => rec.video().filter((e) => fromSecond(e.n)).length >= 10, 8000, 'rtmp: 10 frames from origin 2');
    await waitFor(() => http.flv.tags.filter((t) => t.type === 9 && fromSecond(counterOf(t))).length >= 10, 8000, 'http-flv: 10 frames from origin 2');

    // The same connections: no reconnect, nothing telling the players the stream went away.
    assert.equal(player.isClosed, false, 'the RTMP player is still connected');
    assert.equal(rec.closed, false);
    assert.equal(http.ended, false, 'the HTTP-FLV response is still open');
    for (const code of ['NetStream.Play.Stop', 'NetStream.Play.StreamNotFound', 'NetStream.Play.UnpublishNotify']) {
      assert.equal(rec.statusIndex(code), -1, `rtmp: no ${code}`);
    }

    assertSwitch(rec.video().map((e) => ({ n: e.n, key: e.kind === 'key' })), 'rtmp');
    const flvVideo = http.flv.tags.filter((t) => t.type === 9 && counterOf(t) >= 0);
    assertSwitch(flvVideo.map((t) => ({ n: counterOf(t), key: isKey(t) })), 'http-flv');

    // Per track, time goes on across the switch.
    const rtmpTags: TagLike[] = rec.media().map((e) => ({ type: e.type, ts: e.ts, data: e.data }));
    assertMonotonicPerTrack(rtmpTags, 'rtmp across the switch');
    assertMonotonicPerTrack(http.flv.tags, 'http-flv across the switch');
    // Continuous too: the switch does not carry the origins' clock offset (${ts2 - ts1} ms) to players.
    for (const [what, tags] of [['rtmp', rtmpTags], ['http-flv', http.flv.tags]] as const) {
      const step = maxVideoStep(tags);
      assert.ok(step < 2000, `${what}: largest video timestamp step ${step} ms across the switch`);
    }

    // The edge tells it: one upstream, now on origin 2, after a reconnect.
    const ups = edge.ctx.upstreams!.list();
    assert.equal(ups.length, 1, 'still one upstream');
    assert.equal(ups[0]!.streamKey, 'live/cam');
    assert.equal(ups[0]!.origin, o2Url, 'the upstream is on origin 2');
    assert.equal(ups[0]!.state, 'playing');
    assert.ok(ups[0]!.reconnects >= 1, `reconnects ${ups[0]!.reconnects}`);
    assert.equal(ups[0]!.since, before!.since, 'the same upstream, not a new pull');
    assert.equal(o2.ctx.counters.playsTotal, 1, 'origin 2 was asked once');
  } finally {
    flv?.close();
    pool.closeAll();
    await closeServer(edge);
    await closeServer(o2);
    await closeServer(o1);
  }
}

test('an origin dying mid-stream: the same players continue from the next origin', { timeout: 15000 }, () => failover(0, 0));

// Origins are independent encoders' servers: the next origin's clock may be hours ahead or behind.
test('failover to an origin whose timestamps are 10 h ahead, then to one 10 h behind: continuous for players', { timeout: 30000 }, async () => {
  await failover(0, 36_000_000);
  await failover(36_000_000, 0);
});

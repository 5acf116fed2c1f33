/**
 * Interop with real ffmpeg: ffmpeg publishes a clip over RTMP, ffmpeg
 * players pull it back, and what each player received must be a byte-exact
 * contiguous run of the clip (per stream, by framemd5) starting on a
 * keyframe, with both audio and video and the clip's sequence headers.
 *
 * The clip has a 2 s GOP (50 frames at 25 fps) so "served from the GOP
 * cache" and "waited for the next keyframe" land on different keyframes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningServer } from '../../src/process/single.js';
import { framemd5, makeClip, play, publish, type Clip, type FfmpegProcess } from '../helpers/ffmpeg.js';
import { packetsOf, type Framemd5 } from '../helpers/framemd5.js';
import { assertContiguousRun, assertMonotonic, describeRun } from '../helpers/packet-run.js';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { sleep, withTimeout } from '../helpers/net.js';

const FPS = 25;
const GOP = 50;
/** A player's first packet must be out of ffmpeg this soon after it was started (GOP cache, no keyframe wait). */
const FIRST_PACKET_MS = 1000;
/** Upper bound on ffmpeg's start + connect + publish before its first frame reaches the server. */
const PUBLISH_STARTUP_MS = 1000;

let srv: RunningServer;
let clip: Clip;
let ref: Framemd5;
const procs: FfmpegProcess[] = [];

before(async () => {
  clip = await makeClip({ seconds: 5, fps: FPS, gop: GOP, width: 320, height: 240 });
  ref = await framemd5(clip.file);
  srv = await startTestServer();
});

after(async () => {
  await Promise.all(procs.map((p) => p.kill(1000)));
  await closeServer(srv);
});

const url = (name: string): string => `rtmp://127.0.0.1:${srv.rtmpPort}/live/${name}`;

function track<T extends FfmpegProcess>(p: T): T {
  procs.push(p);
  return p;
}

test('two players joining 1 s in each get a contiguous run from a keyframe, audio and video', async (t) => {
  const pub = track(publish(url('two'), clip));
  await sleep(1000);
  const players = [0, 1].map(() => track(play(url('two'), { seconds: 3 })));
  const results = await withTimeout(Promise.all(players.map((p) => p.done)), 15_000, 'players to finish');
  for (const [i, r] of results.entries()) {
    assert.equal(r.exit.code, 0, `player ${i} exit ${r.exit.code ?? r.exit.signal}:\n${r.stderr.slice(-2000)}`);
    const run = assertContiguousRun(r, ref, { gop: GOP });
    assertMonotonic(r);
    t.diagnostic(`player ${i}: ${describeRun(run)}, first packet after ${r.packets[0]?.atMs} ms`);
    assert.ok(run.video.length >= 3 * FPS - 5, `player ${i}: ${run.video.length} video packets for 3 s`);
    assert.ok(run.audio.length >= 3 * 40, `player ${i}: ${run.audio.length} audio packets for 3 s`);
  }
  const pubExit = await withTimeout(pub.exited, 10_000, 'publisher to finish the clip');
  assert.equal(pubExit.code, 0, pub.stderr().slice(-2000));
  // ffmpeg's publisher and both players used the digest (complex) handshake.
  assert.ok(srv.ctx.counters.complexHandshakes >= 3, `complex handshakes: ${srv.ctx.counters.complexHandshakes}`);
});

test('a late joiner starts at the GOP-cache keyframe at once', async (t) => {
  const pub = track(publish(url('late'), clip));
  await sleep(3000);
  const joinMs = Date.now() - pub.t0;
  const player = track(play(url('late'), { seconds: 2 }));
  const r = await withTimeout(player.done, 10_000, 'player to finish');
  assert.equal(r.exit.code, 0, r.stderr.slice(-2000));
  const run = assertContiguousRun(r, ref, { gop: GOP });
  assertMonotonic(r);
  const first = r.packets[0]!.atMs!;
  t.diagnostic(`joined at ${joinMs} ms: ${describeRun(run)}, first packet after ${first} ms`);

  // Where the publisher was when the player joined, in video frames: -re never runs ahead of
  // real time, and its first frame reached the server within PUBLISH_STARTUP_MS of the spawn.
  const hi = Math.ceil((joinMs * FPS) / 1000) + 1;
  const lo = Math.floor(((joinMs - PUBLISH_STARTUP_MS) * FPS) / 1000);
  assert.ok(
    run.video.start <= hi && run.video.start > lo - GOP,
    `first keyframe #${run.video.start}: want the GOP in progress at join (publisher at frames ${lo}..${hi})`,
  );
  assert.ok(first <= FIRST_PACKET_MS, `first packet after ${first} ms, want <= ${FIRST_PACKET_MS} ms`);
  assert.ok(packetsOf(r, 'video').length >= 2 * FPS - 5);
  await withTimeout(pub.exited, 10_000, 'publisher to finish the clip');
});

test('publishing a live name again is refused (BadName); the first publisher and its player go on', async (t) => {
  const pub1 = track(publish(url('dup'), clip));
  await sleep(1000);
  const player = track(play(url('dup'), { seconds: 3 }));
  await sleep(500);
  const pub2 = track(publish(url('dup'), clip));
  const e2 = await withTimeout(pub2.exited, 8000, 'second publisher to be refused');
  const err2 = pub2.stderr();
  t.diagnostic(`second publisher: exit ${e2.code ?? e2.signal} after ${e2.atMs} ms; ${err2.match(/.*Server error.*/)?.[0] ?? '(no "Server error" line)'}`);
  assert.notEqual(e2.code, 0, 'second publisher must fail');
  // ffmpeg 4.1 logs an error onStatus as "Server error: <description>"; sluice puts the
  // status code in the description so operators see it there.
  assert.match(err2, /Server error: NetStream\.Publish\.BadName/);
  assert.ok(pub1.running, `first publisher must keep going:\n${pub1.stderr().slice(-2000)}`);

  const refusedAt = pub2.t0 + e2.atMs;
  const r = await withTimeout(player.done, 12_000, 'player to finish');
  assert.equal(r.exit.code, 0, r.stderr.slice(-2000));
  const run = assertContiguousRun(r, ref, { gop: GOP });
  assertMonotonic(r);
  t.diagnostic(`player: ${describeRun(run)}`);
  assert.ok(run.video.length >= 3 * FPS - 5, `${run.video.length} video packets for 3 s`);
  const last = player.t0 + r.packets.at(-1)!.atMs!;
  assert.ok(last > refusedAt + 500, 'player kept receiving after the refused publish');
  const e1 = await withTimeout(pub1.exited, 10_000, 'first publisher to finish the clip');
  assert.equal(e1.code, 0, pub1.stderr().slice(-2000));
});

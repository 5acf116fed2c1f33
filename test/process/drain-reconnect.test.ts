/**
 * A drain that keeps viewers watching, as a pod termination plays it out:
 * an origin (in process) with a synthetic publisher, two edge nodes A and B
 * as real CLI processes pulling from it, and on A `cluster.reconnectTcUrl`
 * naming B with `{app}` (B stands for the Kubernetes Service). An E-RTMP
 * player (capsEx Reconnect) and a legacy player watch on A; A gets SIGTERM.
 *
 * The E-RTMP player gets NetConnection.Connect.ReconnectRequest naming B,
 * plays B while A still serves it, and closes A once B's first keyframe is
 * in (E-RTMP v2 message flow); A then ends the legacy player as any drain
 * does (Play.Stop, FIN) and exits 0 without waiting out reconnectWaitMs.
 *
 * Every wait is bounded; children are SIGKILLed in `after`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RtmpClient, ReconnectRequest, StatusEvent } from '../../src/rtmp/client/rtmp-client.js';
import { CapsEx, RECONNECT_REQUEST } from '../../src/protocol/commands.js';
import type { RunningServer } from '../../src/process/single.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder, type MediaEntry } from '../helpers/rtmp-recorder.js';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { waitFor, withTimeout } from '../helpers/net.js';
import { killAll, startServe, type Cli } from '../helpers/cli-process.js';

/** A keyframe every second: 25 frames of 40 ms. */
const GOP = 25;
const FRAME_MS = 40;
const DRAIN_DELAY_MS = 300;
const RECONNECT_WAIT_MS = 4000;
const GRACE_MS = 3000;
/** The whole drain's bound: readiness delay, reconnect wait, grace, and 2 s for the process to go. */
const EXIT_WITHIN_MS = DRAIN_DELAY_MS + RECONNECT_WAIT_MS + GRACE_MS + 2000;

const rtmp = new RtmpClientPool();
let origin: RunningServer | undefined;

after(async () => {
  rtmp.closeAll();
  killAll();
  await closeServer(origin);
});

/** `serve --workers 1 --mode edge` pulling from `originPort`, on fresh ports. */
function startEdge(originPort: number, extra: string[] = []): Promise<Cli> {
  return startServe([
    '--workers', '1', '--mode', 'edge', '--origin', `rtmp://127.0.0.1:${originPort}`,
    '--set', 'player.mergeWriteMs=0',
    '--set', `cluster.drainDelayMs=${DRAIN_DELAY_MS}`,
    '--set', `cluster.reconnectWaitMs=${RECONNECT_WAIT_MS}`,
    '--set', `cluster.shutdownGraceMs=${GRACE_MS}`,
    ...extra,
  ], 'edge', 8000);
}

/** A player on `url` playing `name`, recorded from before the play; resolves once `frames` video frames are in. */
async function player(url: string, name: string, capsEx?: number, frames = 5): Promise<{ c: RtmpClient; rec: Recorder }> {
  const c = await rtmp.connect(url, capsEx === undefined ? {} : { capsEx });
  const rec = new Recorder(c);
  await c.play(name);
  await waitFor(() => rec.video().length >= frames, 5000, `${frames} video frames on ${url}`);
  return { c, rec };
}

interface Handover {
  req: ReconnectRequest;
  /** Date.now() when the request arrived. */
  at: number;
  b: RtmpClient;
  recB: Recorder;
  /** The keyframe it switched at: A's frames before it are played, then B's from it. */
  switchAt: number;
  /** Date.now() when the player closed its connection to A. */
  leftA: number;
}

/**
 * What an E-RTMP player application does with a ReconnectRequest: go on
 * playing here, open the new connection, and switch at the media boundary:
 * the next keyframe A sends once B is up, which B has too; then close A.
 */
function handoverOn(a: RtmpClient, recA: Recorder, name: string): Promise<Handover> {
  return new Promise((resolve, reject) => {
    a.once('reconnectRequest', (req) => {
      const at = Date.now();
      void (async () => {
        const b = await rtmp.connect(req.tcUrl, { capsEx: CapsEx.Reconnect });
        const recB = new Recorder(b);
        await b.play(name);
        await waitFor(() => recB.video().some((e) => e.kind === 'key'), 5000, 'a keyframe from the new server');
        const from = recA.log.length;
        const nextKey = (): MediaEntry | undefined => recA.video(from).find((e) => e.kind === 'key');
        await waitFor(() => nextKey() !== undefined && recB.hasVideo(nextKey()!.n), 5000, 'the next keyframe on A, and on B');
        const switchAt = nextKey()!.n;
        const leftA = Date.now();
        await a.close();
        resolve({ req, at, b, recB, switchAt, leftA });
      })().catch(reject);
    });
  });
}

/** Each video frame's counter is the one before plus one: nothing lost or repeated on this connection. */
function assertContiguous(video: MediaEntry[], what: string): void {
  for (let k = 1; k < video.length; k++) assert.equal(video[k]!.n, video[k - 1]!.n + 1, `${what}: frame ${k} follows frame ${k - 1}`);
}

test('SIGTERM on an edge: the E-RTMP player is asked to reconnect to the Service and moves without losing a GOP; the legacy player gets Play.Stop', { timeout: 40000 }, async (t) => {
  origin = await startTestServer({ player: { mergeWriteMs: 0 } });
  const pub = await rtmp.publisher(rtmpUrl(origin.rtmpPort), 'cam', { gop: GOP, frameMs: FRAME_MS });
  pub.headers();
  pub.start();

  const b = await startEdge(origin.rtmpPort);
  const a = await startEdge(origin.rtmpPort, ['--set', `cluster.reconnectTcUrl=rtmp://127.0.0.1:${b.rtmpPort}/{app}`]);

  const er = await player(rtmpUrl(a.rtmpPort), 'cam', CapsEx.Reconnect);
  assert.equal(er.c.serverCapsEx, CapsEx.Reconnect, "A's connect _result states capsEx Reconnect to the client that announced it");
  const legacy = await player(rtmpUrl(a.rtmpPort), 'cam');
  assert.equal(legacy.c.serverCapsEx, 0, "a legacy client's _result has no capsEx");
  const legacyStatuses: StatusEvent[] = [];
  legacy.c.on('status', (s) => legacyStatuses.push(s));
  let legacyFin = false;
  legacy.c.socket.once('end', () => (legacyFin = true));
  const legacyClosed = new Promise<{ error: Error | undefined; at: number }>((resolve) => legacy.c.once('close', (error) => resolve({ error, at: Date.now() })));
  let legacyAsked = false;
  legacy.c.on('reconnectRequest', () => (legacyAsked = true));
  const handover = handoverOn(er.c, er.rec, 'cam');
  // Our address as A logs it ("peer"), read while the socket is open.
  const erPeer = `127.0.0.1:${er.c.socket.localPort}`;

  const t0 = Date.now();
  a.child.kill('SIGTERM');
  const h = await withTimeout(handover, DRAIN_DELAY_MS + RECONNECT_WAIT_MS, 'the E-RTMP player moving to B');
  // Some of B's stream after the switch, for the stitch below.
  await waitFor(() => h.recB.video().length >= GOP, 5000, 'a GOP of video from B');
  const exit = await withTimeout(a.exited, EXIT_WITHIN_MS, 'A to exit after SIGTERM');
  const legacyEnd = await withTimeout(legacyClosed, 2000, 'the legacy player closed');

  // The request: on the NetConnection, status level, naming B with the client's app.
  assert.equal(h.req.tcUrl, `rtmp://127.0.0.1:${b.rtmpPort}/live`);
  assert.deepEqual([h.req.status.streamId, h.req.status.level, h.req.status.code], [0, 'status', RECONNECT_REQUEST]);
  assert.match(h.req.description, /Reconnect requested/);
  assert.ok(h.at - t0 >= DRAIN_DELAY_MS - 50, `request ${h.at - t0} ms after SIGTERM, after the readiness delay (${DRAIN_DELAY_MS} ms)`);

  // A kept serving the asked player until it left.
  const vA = er.rec.video();
  assert.ok(vA.some((e) => e.at > h.at), 'A sent video to the E-RTMP player after the request');
  // What the application plays: A's frames before the switch keyframe, then B's from it (the overlap is dropped
  // by frame counter, as a player drops what it already has).
  const vB = h.recB.video();
  assertContiguous(vA, 'E-RTMP player on A');
  assertContiguous(vB, 'E-RTMP player on B');
  assert.equal(vB[0]!.kind, 'key', 'B starts on a keyframe');
  const fromA = vA.filter((e) => e.n < h.switchAt);
  const fromB = vB.filter((e) => e.n >= h.switchAt);
  assert.equal(fromB[0]?.kind, 'key', 'the switch is at a keyframe');
  const stitched = [...fromA, ...fromB];
  const lastA = fromA.at(-1)!.n;
  const missing = fromB[0]!.n - lastA - 1;
  assert.ok(missing >= 0 && missing <= GOP, `at most one GOP missing across the move: ${missing} frames between A's last (${lastA}) and B's first (${fromB[0]!.n})`);
  for (let k = 1; k < stitched.length; k++) {
    const step = stitched[k]!.n - stitched[k - 1]!.n;
    assert.ok(step === 1 || (k === fromA.length && step === missing + 1), `stitched frame ${stitched[k]!.n} after ${stitched[k - 1]!.n}`);
  }
  for (const e of stitched) assert.deepEqual(e.data, pub.videoData(e.n), `frame ${e.n} is the published one, byte for byte`);
  t.diagnostic(
    `request ${h.at - t0} ms after SIGTERM; moved ${h.leftA - h.at} ms later; A exited ${exit.at - t0} ms after SIGTERM; ` +
      `A frames ${vA[0]!.n}..${vA.at(-1)!.n}, B frames from ${vB[0]!.n}, switched at keyframe ${h.switchAt} ` +
      `(${vA.length - fromA.length + vB.length - fromB.length} overlapping frames dropped, ${missing} missing)`,
  );

  // The legacy player: never asked, served during the wait, then ended as every drain ends players.
  assert.equal(legacyAsked, false, 'no reconnectRequest event for the legacy player');
  const codes = legacyStatuses.map((s) => s.code);
  assert.ok(!codes.includes(RECONNECT_REQUEST), `legacy statuses: ${codes.join()}`);
  assert.ok(codes.includes('NetStream.Play.Stop'), `legacy player got Play.Stop: ${codes.join()}`);
  assert.ok(legacy.rec.video().some((e) => e.at > h.at), 'the legacy player kept its video during the wait');
  assert.ok(legacyEnd.error, 'the legacy connection was closed by A');
  assert.ok(legacyFin, 'with a FIN');
  assert.ok(legacyEnd.at >= h.leftA, 'the rest were ended once the asked player had left');

  // A: exit 0, early (the one asked session left, so no full reconnect wait), with a clean log.
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `A's exit; stderr: ${a.stderr}`);
  assert.ok(exit.at - h.leftA < 2000, `A exited ${exit.at - h.leftA} ms after the asked player left (reconnectWaitMs ${RECONNECT_WAIT_MS})`);
  const asked = a.msgs('reconnect requested');
  assert.equal(asked.length, 1, 'one ReconnectRequest logged');
  assert.equal(asked[0]!.peer, erPeer);
  assert.equal(asked[0]!.streamKey, 'live/cam');
  assert.equal(asked[0]!.tcUrl, h.req.tcUrl);
  assert.ok(asked[0]!.clientId, 'with the client id');
  const over = a.msgs('reconnect wait over');
  assert.deepEqual([over[0]?.asked, over[0]?.moved], [1, 1]);
  assert.deepEqual(a.junk, [], 'stdout is JSON lines only');
  const bad = a.lines.filter((l) => l.level === 'error' || l.level === 'fatal' || l.msg === 'session ended by error');
  assert.deepEqual(bad, [], 'nothing logged as an error');

  // B goes on serving the player that moved.
  const before = h.recB.video().length;
  await waitFor(() => h.recB.video().length > before + 5, 3000, 'B still playing');
  assert.equal(b.exit, undefined, 'B is still running');
});

// librtmp clients (Debian's rtmpdump) join a live ffmpeg publish mid-GOP,
// with the simple and with the FP9 (digest) handshake, and the FLV they save
// must say "audio and video" in its header. librtmp writes those flags from
// the media messages it receives before the first non-zero timestamp, so a
// server that stamps a late joiner's metadata and sequence headers at the
// GOP's time gets files flagged 00. Then the file's tags are checked against
// the clip's own: onMetaData and both sequence headers at 0, byte for byte,
// then a keyframe-first contiguous run per track.
//
// HTTP-FLV and WS-FLV late joiners are held to the same opening (what
// flv.js and mpegts.js expect): flags 05, onMetaData first, all at 0.
//
// Then both librtmp and ffmpeg players through a republish on the default
// config: they end on NetStream.Play.UnpublishNotify, so sluice, like
// nginx-rtmp, does not send it (rtmp.publishNotify off); both must stay and
// save the second publish from its first frame, timestamps going on.
//
// rtmpdump comes from `apt-get install rtmpdump` (.ci/run does it). Outside
// CI a machine without it skips with a message; in CI (CI=1) it fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { RunningServer } from '../../src/process/single.js';
import { assertFlvClipRun, assertFlvOpening, isFrame, readClip, tagOf, type ClipTag } from '../helpers/clip-tags.js';
import { framemd5, makeClip, play, publish, type FfmpegProcess, type Player } from '../helpers/ffmpeg.js';
import { streamIndex } from '../helpers/framemd5.js';
import { FlvCollector } from '../helpers/flv-collector.js';
import { getFlv, wsFlv } from '../helpers/flv-players.js';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { sleep, waitFor, withTimeout } from '../helpers/net.js';

const FPS = 25;
const GOP = FPS;
const NAME = 'lib';
/** Video frames every player must have before the checks (2 s). */
const ENOUGH = 2 * FPS;

const hasRtmpdump = spawnSync('rtmpdump', ['-h'], { stdio: 'ignore' }).error === undefined;
const skip = !hasRtmpdump && !process.env.CI ? 'rtmpdump is not installed (apt-get install rtmpdump); .ci/run installs it' : false;

/** rtmpdump writing FLV to its stdout, collected. */
function rtmpdump(url: string, args: string[]): { proc: ChildProcess; flv: FlvCollector; stderr: () => string } {
  const proc = spawn('rtmpdump', ['-q', '-v', '-r', url, '-o', '-', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const flv = new FlvCollector();
  let err = '';
  proc.stdout!.on('data', (b: Buffer) => flv.push(b));
  proc.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-8192)));
  return { proc, flv, stderr: () => err };
}

const videoFrames = (flv: FlvCollector): number => flv.tags.filter((t) => t.type === 9 && t.data[1] === 1).length;

test('rtmpdump (simple and FP9 handshake), HTTP-FLV and WS-FLV join a live ffmpeg publish mid-GOP: FLV header flags audio+video, onMetaData and sequence headers at 0, then a keyframe-first run of the clip', { skip, timeout: 40000 }, async () => {
  assert.ok(hasRtmpdump, 'rtmpdump is installed (CI=1: .ci/run must install it)');
  const clip = await makeClip({ seconds: 7, fps: FPS, gop: GOP, width: 160, height: 120 });
  const ref = readClip(clip);
  let srv: RunningServer | undefined;
  let pub: FfmpegProcess | undefined;
  const dumps: ReturnType<typeof rtmpdump>[] = [];
  const flvs: ReturnType<typeof getFlv>[] = [];
  const wss: ReturnType<typeof wsFlv>[] = [];
  try {
    srv = await startTestServer();
    const s = srv;
    pub = publish(`rtmp://127.0.0.1:${s.rtmpPort}/live/${NAME}`, clip);
    await waitFor(() => s.directory.homeOf(`live/${NAME}`) !== undefined, 10000, 'the publish is live');
    // Into the second GOP, and not on a keyframe: the players join late and mid-GOP.
    await sleep(1500);
    const url = `rtmp://127.0.0.1:${s.rtmpPort}/live/${NAME}`;
    dumps.push(rtmpdump(url, []));
    // A SWF hash and size make librtmp use the FP9 handshake (client digest, server signature checked).
    dumps.push(rtmpdump(url, ['-w', 'ab'.repeat(32), '-x', '12345']));
    const flvUrl = `http://127.0.0.1:${s.httpPort}/live/${NAME}.flv`;
    flvs.push(getFlv(flvUrl));
    wss.push(wsFlv(flvUrl.replace('http:', 'ws:')));
    const players = [
      ...dumps.map((d, i) => ({ what: i === 0 ? 'rtmpdump (simple handshake)' : 'rtmpdump (FP9 handshake)', flv: d.flv, stderr: d.stderr })),
      { what: 'HTTP-FLV', flv: flvs[0]!.flv, stderr: () => '' },
      { what: 'WS-FLV', flv: wss[0]!.flv, stderr: () => '' },
    ];
    await waitFor(
      () => {
        for (const d of dumps) if (d.proc.exitCode !== null) throw new Error(`rtmpdump exited early (${d.proc.exitCode}):\n${d.stderr()}`);
        return players.every((p) => videoFrames(p.flv) >= ENOUGH);
      },
      15000,
      `${ENOUGH} video frames at every player`,
      50,
    );
    for (const p of players) {
      assertFlvOpening(p.flv, p.what);
      const run = assertFlvClipRun(p.flv.tags, ref, p.what);
      assert.ok(run.video > 0, `${p.what}: joined late (clip video #${run.video}), not at the start`);
    }
  } finally {
    for (const d of dumps) d.proc.kill('SIGKILL');
    for (const f of flvs) f.close();
    for (const w of wss) w.close();
    pub?.proc.kill('SIGKILL');
    await closeServer(srv);
  }
});

test('rtmpdump and an ffmpeg player stay through a republish within media.republishGraceMs (default config) and get the new publish from its first frame, timestamps going on', { skip, timeout: 40000 }, async () => {
  assert.ok(hasRtmpdump, 'rtmpdump is installed (CI=1: .ci/run must install it)');
  const clip = await makeClip({ seconds: 3, fps: FPS, gop: GOP, width: 160, height: 120 });
  const ref = readClip(clip);
  const refMd5 = await framemd5(clip.file);
  let srv: RunningServer | undefined;
  let pub: FfmpegProcess | undefined;
  let dump: ReturnType<typeof rtmpdump> | undefined;
  let player: Player | undefined;
  try {
    srv = await startTestServer();
    const s = srv;
    const url = `rtmp://127.0.0.1:${s.rtmpPort}/live/${NAME}`;
    pub = publish(url, clip);
    await waitFor(() => s.directory.homeOf(`live/${NAME}`) !== undefined, 10000, 'the first publish is live');
    const d = (dump = rtmpdump(url, []));
    const p = (player = play(url, { seconds: 30, killAfterMs: 30000 }));
    await pub.exited;
    // The stream is down now, well within the 5 s default grace.
    await sleep(800);
    const alive = (): void => {
      if (d.proc.exitCode !== null) assert.fail(`rtmpdump ended (${d.proc.exitCode}) at the unpublish:\n${d.stderr().slice(-600)} ${d.flv.tags.length}`);
      if (!p.running) assert.fail(`the ffmpeg player ended at the unpublish:\n${p.stderr().slice(-1500)}`);
    };
    alive();
    pub = publish(url, clip);
    await pub.exited;
    // The second publish: from the last onMetaData (in-band, at continued timestamps) on.
    const second = (): ClipTag[] => {
      const tags = d.flv.tags.map(tagOf);
      return tags.slice(tags.map((t) => t.kind).lastIndexOf('meta'));
    };
    const v = streamIndex(p, 'video');
    const want = refMd5.packets.filter((x) => x.stream === streamIndex(refMd5, 'video')).map((x) => x.hash);
    const got = (): string[] => p.packets.filter((x) => x.stream === v).map((x) => x.hash);
    // Both publishes end on the clip's last frame: the ffmpeg player has it twice once the second run is in.
    await waitFor(() => got().filter((h) => h === want.at(-1)).length >= 2, 5000, 'the last frame of the second publish at the ffmpeg player', 50);
    alive();
    // rtmpdump's stdout is block-buffered: SIGINT makes it stop, flush and exit.
    const exited = new Promise((resolve) => d.proc.once('exit', resolve));
    d.proc.kill('SIGINT');
    await withTimeout(exited, 3000, 'rtmpdump to exit on SIGINT');

    // rtmpdump's file: one header flagged audio+video, then the first publish's tail, then the
    // new publish's metadata, sequence headers and every frame of the clip, byte for byte.
    assertFlvOpening(d.flv, 'rtmpdump');
    const tags = d.flv.tags.map(tagOf);
    assert.ok(tags.length - second().length > 3, 'rtmpdump: the new publish onMetaData came in-band, after the first publish');
    assert.ok(second().some((t) => t.kind === 'vseq' && t.data.equals(ref.vseq)), 'rtmpdump: the new publish video sequence header');
    const frames = second().filter(isFrame);
    assert.equal(frames.length, ref.video.length, 'rtmpdump: every video frame of the second publish');
    frames.forEach((t, i) => assert.ok(t.data.equals(ref.video[i]!.data), `rtmpdump: second publish, video #${i} as in the clip`));
    for (const type of [8, 9]) {
      const track = tags.filter((t) => t.type === type && t.kind !== 'meta');
      for (let i = 1; i < track.length; i++) assert.ok(track[i]!.ts >= track[i - 1]!.ts, `rtmpdump: type ${type} timestamp goes back at #${i} (${track[i - 1]!.ts} -> ${track[i]!.ts})`);
    }

    // The ffmpeg player: the whole clip's video again, but for its first keyframe, which ffmpeg 4.1's
    // flv demuxer consumes with the new sequence header (it does the same behind nginx-rtmp), and no
    // timestamp going back (behind nginx-rtmp, which does not re-base, it warns "Non-monotonous DTS").
    assert.deepEqual(got().slice(-(want.length - 1)), want.slice(1), 'ffmpeg player: the video packets of the second publish');
    assert.equal(got().at(-want.length), want.at(-1), 'ffmpeg player: the first publish ran to its last frame just before');
    assert.doesNotMatch(p.stderr(), /Non-monotonous DTS/, 'ffmpeg player: timestamps never went back');
  } finally {
    dump?.proc.kill('SIGKILL');
    await player?.kill(500);
    pub?.proc.kill('SIGKILL');
    await closeServer(srv);
  }
});

// node-media-server as the origin of a sluice edge: nothing sluice-specific
// on the wire between them. A synthetic encoder publishes live/cam to NMS;
// an RTMP player and an HTTP-FLV player at the edge get the publisher's
// video frames byte-for-byte, from a keyframe, with no frame missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { freePort, waitFor, waitForListen, withTimeout } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder, type MediaEntry } from '../helpers/rtmp-recorder.js';
import { getFlv } from '../helpers/flv-players.js';
import { counterOf, isKey } from '../helpers/synthetic-media.js';
import type { SyntheticPublisher } from '../helpers/synthetic-publisher.js';
import type { FlvTag } from '../helpers/flv-collector.js';
import type { RunningServer } from '../../src/process/single.js';

const NMS_APP = resolve('node_modules/node-media-server/bin/app.js');
const SECRET = 'sluice-test-secret';

/** NMS's play signature: sign=<expires>-md5("/app/name-<expires>-<secret>"). */
function nmsSign(path: string, expires: number): string {
  return `${expires}-${createHash('md5').update(`${path}-${expires}-${SECRET}`).digest('hex')}`;
}

interface Nms {
  proc: ChildProcess;
  rtmpPort: number;
  dir: string;
  output: () => string;
}

/**
 * NMS on 127.0.0.1 with its own config file in a temp dir: no RTMPS/HTTPS
 * listeners (their fixed default ports would clash), no webadmin, no JWT API
 * and a set auth secret, so it writes nothing back into node_modules.
 */
async function startNms(playAuth = false): Promise<Nms> {
  // A port that was free a moment ago can be taken by a parallel test before NMS binds it: try fresh ones.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNmsOnce(playAuth);
    } catch (err) {
      if (attempt >= 3 || !/already in use/.test(String(err))) throw err;
    }
  }
}

async function startNmsOnce(playAuth: boolean): Promise<Nms> {
  const [rtmpPort, httpPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'sluice-nms-'));
  const configPath = join(dir, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      bind: '127.0.0.1',
      notify: { url: '' },
      store: { path: join(dir, 'data') },
      auth: { play: playAuth, publish: false, secret: SECRET },
      rtmp: { port: rtmpPort },
      http: { port: httpPort },
      webadmin: { enable: false },
      record: { auto: false, path: join(dir, 'record') },
    }),
  );
  const proc = spawn(process.execPath, [NMS_APP, '-c', configPath, '--rtmp-port', String(rtmpPort), '--http-port', String(httpPort), '--data-path', join(dir, 'data')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const nms: Nms = { proc, rtmpPort, dir, output: () => out };
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`node-media-server exited (${proc.exitCode ?? proc.signalCode}): ${out}`);
        return waitForListen(rtmpPort, 50).then(
          () => true,
          () => false,
        );
      },
      8000,
      'node-media-server listening',
      50,
    );
  } catch (err) {
    await stopNms(nms);
    throw err;
  }
  return nms;
}

async function stopNms(nms: Nms | undefined): Promise<void> {
  if (!nms) return;
  const { proc } = nms;
  if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) {
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    process.kill(proc.pid, 'SIGKILL');
    await withTimeout(exited, 5000, 'node-media-server exit').catch(() => undefined);
  }
  rmSync(nms.dir, { recursive: true, force: true });
}

/** The video frames (not sequence headers) are the publisher's, byte for byte, from a keyframe, contiguous. */
function assertVideoFrames(what: string, frames: { n: number; data: Buffer; key: boolean }[], pub: SyntheticPublisher, atLeast: number): void {
  assert.ok(frames.length >= atLeast, `${what}: ${frames.length} video frames`);
  assert.ok(frames[0]!.key, `${what}: starts on a keyframe (frame ${frames[0]!.n})`);
  for (const [k, f] of frames.entries()) {
    if (k > 0) assert.equal(f.n, frames[k - 1]!.n + 1, `${what}: contiguous frames after ${frames[k - 1]!.n}`);
    const sent = pub.videoData(f.n);
    assert.ok(sent, `${what}: frame ${f.n} was sent`);
    assert.ok(sent.equals(f.data), `${what}: frame ${f.n} byte-for-byte`);
  }
}

const rtmpVideo = (v: MediaEntry[]) => v.map((e) => ({ n: e.n, data: e.data, key: e.kind === 'key' }));
const flvVideo = (tags: FlvTag[]) => tags.filter((t) => t.type === 9 && counterOf(t) >= 0).map((t) => ({ n: counterOf(t), data: t.data, key: isKey(t) }));

test('node-media-server as origin: RTMP and HTTP-FLV players at a sluice edge get its stream byte-for-byte', { timeout: 15000 }, async () => {
  let nms: Nms | undefined;
  let edge: RunningServer | undefined;
  const pool = new RtmpClientPool();
  let flv: ReturnType<typeof getFlv> | undefined;
  try {
    nms = await startNms();
    const pub = await pool.publisher(rtmpUrl(nms.rtmpPort), 'cam', { gop: 10, frameMs: 40 });
    pub.headers();
    pub.start();
    edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${nms.rtmpPort}`] }, player: { mergeWriteMs: 0 } });
    // The publish is live at NMS before the edge's first player asks for it.
    await waitFor(() => pub.i >= 3, 3000, 'publisher under way');

    const player = await pool.connect(rtmpUrl(edge.rtmpPort));
    const rec = new Recorder(player);
    await player.play('cam');
    flv = getFlv(`http://127.0.0.1:${edge.httpPort}/live/cam.flv`);
    const res = await withTimeout(flv.res, 5000, 'http-flv response');
    assert.equal(res.statusCode, 200);

    const target = pub.nextN + 15;
    await rec.frame(target, 6000);
    await waitFor(() => flv!.flv.has(9, target), 6000, `http-flv video frame ${target}`);

    // RTMP player: sequence header before the first frame, then the frames as sent.
    const media = rec.media();
    const firstFrame = media.findIndex((e) => e.kind === 'key' || e.kind === 'inter');
    assert.ok(media.slice(0, firstFrame).some((e) => e.kind === 'vseq'), 'rtmp: AVC sequence header before the first frame');
    assertVideoFrames('rtmp', rtmpVideo(rec.video()), pub, 10);

    // HTTP-FLV player.
    const tags = flv.flv.tags;
    const firstTag = tags.findIndex((t) => t.type === 9 && counterOf(t) >= 0);
    assert.ok(tags.slice(0, firstTag).some((t) => t.type === 9 && t.data[1] === 0), 'http-flv: AVC sequence header before the first frame');
    assertVideoFrames('http-flv', flvVideo(tags), pub, 10);

    // One upstream at the edge, playing from NMS.
    const ups = edge.ctx.upstreams!.list();
    assert.equal(ups.length, 1, 'one upstream');
    assert.equal(ups[0]!.state, 'playing');
    assert.equal(ups[0]!.origin, `rtmp://127.0.0.1:${nms.rtmpPort}`);
  } finally {
    flv?.close();
    pool.closeAll();
    await closeServer(edge);
    await stopNms(nms);
  }
});

// Token traverse: the query on the edge player's URL goes to the origin on the
// upstream's play, so origin-side auth works through the edge. NMS with
// auth.play checks a signature in the play query; sluice has no idea of it.
test('token traverse: an NMS origin with play auth accepts the edge\'s pull only with the player\'s signed query', { timeout: 15000 }, async () => {
  let nms: Nms | undefined;
  let edge: RunningServer | undefined;
  const pool = new RtmpClientPool();
  try {
    nms = await startNms(true);
    const pub = await pool.publisher(rtmpUrl(nms.rtmpPort), 'cam', { gop: 10, frameMs: 40 });
    pub.headers();
    pub.start();
    edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${nms.rtmpPort}`], playWaitMs: 800 }, player: { mergeWriteMs: 0 } });
    await waitFor(() => pub.i >= 3, 3000, 'publisher under way');

    // No signature: NMS refuses the edge's pull, and the edge's player hears StreamNotFound.
    const bare = await pool.connect(rtmpUrl(edge.rtmpPort));
    const bareRec = new Recorder(bare);
    await bare.play('cam').catch(() => undefined);
    await bareRec.status('NetStream.Play.StreamNotFound', 5000);
    assert.equal(bareRec.video().length, 0, 'no video without a signature');
    await waitFor(() => edge!.ctx.upstreams!.list().length === 0, 5000, 'the refused pull is over');

    // Signed: the query reaches NMS on the upstream play and the stream flows.
    const sign = nmsSign('/live/cam', Math.floor(Date.now() / 1000) + 600);
    const player = await pool.connect(rtmpUrl(edge.rtmpPort));
    const rec = new Recorder(player);
    await player.play(`cam?sign=${sign}`);
    const target = pub.nextN + 10;
    await rec.frame(target, 6000);
    assertVideoFrames('signed rtmp player', rtmpVideo(rec.video()), pub, 8);
    assert.match(nms.output(), /authentication verification failed/, 'NMS did check, and refused the unsigned play');
  } finally {
    pool.closeAll();
    await closeServer(edge);
    await stopNms(nms);
  }
});

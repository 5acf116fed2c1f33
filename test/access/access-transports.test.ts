/**
 * Access control through every transport, with real clients: ffmpeg
 * publishes only with a signed URL; players are admitted by IP rule
 * (IPv6 loopback allowed, IPv4 loopback denied) over RTMP (ffmpeg and
 * sluice's client), HTTP-FLV and WS-FLV, each refused the way its protocol
 * refuses (Publish.BadName, Play.Failed, HTTP 401/403); refusals end only
 * their own connection and are counted in sluice_refused_total.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, type RunningServer } from '../../src/process/single.js';
import { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import { sign, signedPayload } from '../../src/access/signed-url.js';
import { makeClip, play, publish, type Clip, type FfmpegProcess } from '../helpers/ffmpeg.js';
import { getFlv, wsFlv, wsStatus } from '../helpers/flv-players.js';
import { waitFor, withTimeout } from '../helpers/net.js';
import { closeServer } from '../helpers/servers.js';
import { parseExposition, value } from '../helpers/prometheus.js';

const SECRET = 'publish-secret-for-tests';
let srv: RunningServer;
let clip: Clip;
let pub: FfmpegProcess | undefined;

before(async () => {
  clip = await makeClip({ seconds: 8, fps: 25, gop: 25, width: 160, height: 120 });
  srv = await withTimeout(
    startServer(
      {
        rtmp: { host: '::', port: 0 },
        http: { host: '::', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        media: { playWaitMs: 0 },
        access: { publishSecrets: [SECRET], playAllow: ['::1/128'] },
      },
      undefined,
      { admin: true },
    ),
    5000,
    'start',
  );
});

after(async () => {
  pub?.kill();
  await closeServer(srv);
});

function signed(name: string, inSec: number): string {
  const expires = String(Math.floor(Date.now() / 1000) + inSec);
  return `${name}?expires=${expires}&sign=${sign(SECRET, signedPayload('publish', 'live', name, expires))}`;
}

function status(url: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.on('data', (b) => (body += b));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function refusedCount(action: string, reason: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${srv.adminPort}/metrics`)).text();
  return value(parseExposition(text), 'sluice_refused_total', { action, reason });
}

test('publish: unsigned and expired are refused with BadName; a signed ffmpeg publish goes live', { timeout: 30000 }, async () => {
  const rtmp = `rtmp://127.0.0.1:${srv.rtmpPort}/live`;
  const c = await RtmpClient.connect(rtmp);
  await assert.rejects(c.publish('cam'), /NetStream\.Publish\.BadName/);
  c.destroy();
  const c2 = await RtmpClient.connect(rtmp);
  await assert.rejects(c2.publish(signed('cam', -5)), /NetStream\.Publish\.BadName/);
  c2.destroy();
  // ffmpeg without a signature gives up: the server refused the stream.
  const refused = publish(`${rtmp}/cam`, clip, { killAfterMs: 10000 });
  const exit = await refused.exited;
  assert.notEqual(exit.code, 0, 'unsigned ffmpeg publish must fail');
  pub = publish(`${rtmp}/${signed('cam', 60)}`, clip);
  await waitFor(() => srv.ctx.hub.get('live', 'cam')?.live === true, 8000, 'signed publish live');
  assert.equal(await refusedCount('publish', 'unsigned'), 2);
  assert.equal(await refusedCount('publish', 'expired'), 1);
});

test('play: ::1 is allowed on RTMP, HTTP-FLV and WS-FLV; 127.0.0.1 is refused on each', { timeout: 30000 }, async () => {
  await waitFor(() => srv.ctx.hub.get('live', 'cam')?.live === true, 8000, 'stream live');
  const v6 = `[::1]:${srv.rtmpPort}`;
  // Refused, IPv4.
  const c = await RtmpClient.connect(`rtmp://127.0.0.1:${srv.rtmpPort}/live`);
  await assert.rejects(c.play('cam'), /NetStream\.Play\.Failed/);
  c.destroy();
  const denied = await status(`http://127.0.0.1:${srv.httpPort}/live/cam.flv`);
  assert.equal(denied.code, 403);
  assert.match(denied.body, /not allowed/);
  assert.equal(await wsStatus(`ws://127.0.0.1:${srv.httpPort}/live/cam.flv`), 403);
  // Allowed, IPv6.
  const ff = play(`rtmp://${v6}/live/cam`, { seconds: 2 });
  const httpPlayer = getFlv(`http://[::1]:${srv.httpPort}/live/cam.flv`);
  const wsPlayer = wsFlv(`ws://[::1]:${srv.httpPort}/live/cam.flv`);
  assert.equal((await httpPlayer.res).statusCode, 200);
  await wsPlayer.opened;
  await waitFor(() => httpPlayer.flv.tags.length > 10 && wsPlayer.flv.tags.length > 10, 8000, 'FLV players receiving over ::1');
  const result = await ff.done;
  assert.equal(result.exit.code, 0, result.stderr);
  assert.ok(result.packets.length > 20, `ffmpeg over ::1 got ${result.packets.length} packets`);
  httpPlayer.close();
  wsPlayer.close();
  assert.equal(await refusedCount('play', 'ip-denied'), 3);
  assert.ok(srv.ctx.hub.get('live', 'cam')?.live, 'the refusals left the publisher alone');
});

test('huge query strings end only their own request or session', { timeout: 20000 }, async () => {
  // HTTP: a 60 KB query is cut at MAX_QUERY (app/stream-name.ts) before access control and the directory
  // see it, and answered like any play (200 while the clip is live, 404 after).
  const huge = `x=${'a'.repeat(60_000)}`;
  const code = await status(`http://[::1]:${srv.httpPort}/live/cam.flv?${huge}`).then((r) => r.code);
  assert.ok(code === 200 || code === 404, `answered ${code}`);
  // RTMP: a publish name over rtmp.maxCommandBytes ends that session with a coded error.
  const c = await RtmpClient.connect(`rtmp://127.0.0.1:${srv.rtmpPort}/live`);
  await assert.rejects(c.publish(`cam?${'b'.repeat(70_000)}`));
  c.destroy();
  assert.ok((srv.ctx.counters.sessionErrors.ERR_MESSAGE_TOO_LARGE ?? 0) >= 1);
  // The server still answers both protocols.
  assert.equal(await status(`http://[::1]:${srv.httpPort}/live/none.flv`).then((r) => r.code), 404);
  const again = await RtmpClient.connect(`rtmp://127.0.0.1:${srv.rtmpPort}/live`);
  again.destroy();
});

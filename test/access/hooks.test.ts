/**
 * SRS-compatible HTTP callbacks against a hook backend played by an
 * in-test HTTP server. The backend decides by stream name (deny-*, slow-*,
 * error-*, big-*; anything else allowed, as "0" or {"code":0}), and the test
 * asserts the exact JSON bodies SRS sends. ffmpeg publishes and plays; RTMP,
 * HTTP-FLV and WS-FLV players are allowed or refused by the same hooks;
 * onError deny and allow are both run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startServer, type RunningServer } from '../../src/process/single.js';
import { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import type { ConfigInput } from '../../src/app/config.js';
import { makeClip, play, publish, type Clip, type FfmpegProcess } from '../helpers/ffmpeg.js';
import { getFlv, wsFlv, wsStatus } from '../helpers/flv-players.js';
import { waitFor, withTimeout } from '../helpers/net.js';
import { closeServer } from '../helpers/servers.js';

type Body = Record<string, unknown>;
const calls: { path: string; body: Body }[] = [];
let backend: http.Server;
let hookBase: string;
let clip: Clip;
const servers: RunningServer[] = [];
const procs: FfmpegProcess[] = [];

before(async () => {
  backend = http.createServer((req, res) => {
    let text = '';
    req.on('data', (b) => (text += b));
    req.on('end', () => {
      const body = JSON.parse(text) as Body;
      calls.push({ path: req.url ?? '', body });
      const name = String(body.stream ?? body.app ?? '');
      if (name.startsWith('deny')) return res.end('{"code":1,"msg":"no"}');
      if (name.startsWith('error')) return res.writeHead(500).end('oops');
      if (name.startsWith('big')) return res.end('0'.repeat(100_000));
      if (name.startsWith('slow')) return void setTimeout(() => res.end('0'), 1500);
      res.end(req.url === '/json' ? '{"code":0}' : '0');
    });
  });
  backend.listen(0, '127.0.0.1');
  await new Promise((r) => backend.once('listening', r));
  hookBase = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  clip = await makeClip({ seconds: 6, fps: 25, gop: 25, width: 160, height: 120 });
});

after(async () => {
  for (const p of procs) p.kill();
  for (const s of servers) await closeServer(s);
  backend.closeAllConnections();
  backend.close();
});

async function server(onError: 'deny' | 'allow'): Promise<RunningServer> {
  const local = { host: '127.0.0.1', port: 0 };
  const hooks: ConfigInput['hooks'] = {
    onConnect: [`${hookBase}/connect`],
    onPublish: [`${hookBase}/json`, `${hookBase}/publish`],
    onUnpublish: [`${hookBase}/unpublish`],
    onPlay: [`${hookBase}/play`],
    onStop: [`${hookBase}/stop`],
    timeoutMs: 300,
    maxReplyBytes: 1024,
    onError,
    serverId: 'sluice-test',
  };
  const s = await withTimeout(startServer({ rtmp: local, http: local, log: { level: 'silent' }, media: { playWaitMs: 0 }, hooks }), 5000, 'start');
  servers.push(s);
  return s;
}

const bodies = (path: string, stream: string) => calls.filter((c) => c.path === path && (c.body.stream ?? '') === stream).map((c) => c.body);

function statusOf(url: string, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    http.request(url, { agent: false, method }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject).end();
  });
}


test('allowed: ffmpeg publishes and plays, FLV players play; the bodies are SRS\'s, ends are told', { timeout: 40000 }, async () => {
  const s = await server('deny');
  const tcUrl = `rtmp://127.0.0.1:${s.rtmpPort}/live`;
  const pub = publish(`${tcUrl}/cam?token=abc`, clip);
  procs.push(pub);
  await waitFor(() => s.ctx.hub.get('live', 'cam')?.live === true, 8000, 'publish live');
  const connect = calls.find((c) => c.path === '/connect')!.body;
  assert.deepEqual(Object.keys(connect).sort(), ['action', 'app', 'client_id', 'ip', 'pageUrl', 'server_id', 'tcUrl', 'vhost']);
  assert.deepEqual({ ...connect, client_id: undefined }, {
    server_id: 'sluice-test', action: 'on_connect', client_id: undefined, ip: '127.0.0.1', vhost: '__defaultVhost__', app: 'live', tcUrl, pageUrl: '',
  });
  const [pubBody] = bodies('/publish', 'cam');
  assert.match(String(pubBody!.client_id), /^0-rtmp-\d+$/);
  assert.deepEqual({ ...pubBody, client_id: undefined }, {
    server_id: 'sluice-test', action: 'on_publish', client_id: undefined, ip: '127.0.0.1', vhost: '__defaultVhost__', app: 'live',
    tcUrl, stream: 'cam', param: '?token=abc', stream_url: '/live/cam',
  });
  assert.equal(bodies('/json', 'cam').length, 1, 'every on_publish URL was asked');

  const ff = play(`${tcUrl}/cam`, { seconds: 1.5 });
  const hp = getFlv(`http://127.0.0.1:${s.httpPort}/live/cam.flv?k=1`);
  const wp = wsFlv(`ws://127.0.0.1:${s.httpPort}/live/cam.flv`);
  assert.equal((await hp.res).statusCode, 200);
  await wp.opened;
  await waitFor(() => hp.flv.tags.length > 5 && wp.flv.tags.length > 5, 8000, 'FLV players receiving');
  const r = await ff.done;
  assert.equal(r.exit.code, 0, r.stderr);
  assert.ok(r.packets.length > 10);
  const plays = bodies('/play', 'cam');
  assert.equal(plays.length, 3);
  const httpPlay = plays.find((b) => String(b.client_id).includes('http-flv'))!;
  assert.deepEqual({ ...httpPlay, client_id: undefined }, {
    server_id: 'sluice-test', action: 'on_play', client_id: undefined, ip: '127.0.0.1', vhost: '__defaultVhost__', app: 'live',
    tcUrl: `http://127.0.0.1:${s.httpPort}/live/cam.flv`, stream: 'cam', param: '?k=1', stream_url: '/live/cam', pageUrl: '',
  });
  assert.ok(plays.some((b) => String(b.client_id).includes('ws-flv')) && plays.some((b) => String(b.client_id).includes('rtmp')));
  hp.close();
  wp.close();
  await waitFor(() => bodies('/stop', 'cam').length === 3, 5000, 'on_stop for each player');
  assert.deepEqual(new Set(bodies('/stop', 'cam').map((b) => b.client_id)), new Set(plays.map((b) => b.client_id)));
  pub.kill();
  await waitFor(() => bodies('/unpublish', 'cam').length === 1, 5000, 'on_unpublish');
  assert.equal(bodies('/unpublish', 'cam')[0]!.client_id, pubBody!.client_id);
});

test('onError deny: a denial, a timeout, an error status, an oversized reply each refuse, on every transport', { timeout: 30000 }, async () => {
  const s = await server('deny');
  const base = `rtmp://127.0.0.1:${s.rtmpPort}`;
  await assert.rejects(RtmpClient.connect(`${base}/deny-app`), /Rejected/);
  const c = await RtmpClient.connect(`${base}/live`);
  await assert.rejects(c.publish('deny-pub'), /NetStream\.Publish\.BadName/);
  c.destroy();
  const c2 = await RtmpClient.connect(`${base}/live`);
  await assert.rejects(c2.publish('slow-pub'), /NetStream\.Publish\.BadName/);
  c2.destroy();
  const c3 = await RtmpClient.connect(`${base}/live`);
  await assert.rejects(c3.play('deny-play'), /NetStream\.Play\.Failed/);
  c3.destroy();
  const http = `http://127.0.0.1:${s.httpPort}/live`;
  assert.equal(await statusOf(`${http}/deny-x.flv`), 403);
  assert.equal(await wsStatus(`ws://127.0.0.1:${s.httpPort}/live/deny-x.flv`), 403);
  for (const name of ['slow-x', 'error-x', 'big-x']) assert.equal(await statusOf(`${http}/${name}.flv`), 503, name);
  assert.deepEqual(s.ctx.counters.refused, {
    'connect hook-denied': 1, 'publish hook-denied': 1, 'publish hook-error': 1, 'play hook-denied': 3, 'play hook-error': 3,
  });
  // Refused starts are not ended: no on_stop / on_unpublish for them.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(calls.filter((c) => (c.path === '/stop' || c.path === '/unpublish') && /^(deny|slow|error|big)/.test(String(c.body.stream))).length, 0);
});

test('onError allow: a failing backend lets publish and play through; a denial still refuses', { timeout: 30000 }, async () => {
  const s = await server('allow');
  const c = await RtmpClient.connect(`rtmp://127.0.0.1:${s.rtmpPort}/live`);
  await c.publish('error-live');
  // HEAD: the stream is live and the hook's failure let the play through (a GET would wait for media).
  assert.equal(await statusOf(`http://127.0.0.1:${s.httpPort}/live/error-live.flv`, 'HEAD'), 200);
  assert.equal(await statusOf(`http://127.0.0.1:${s.httpPort}/live/slow-live.flv`, 'HEAD'), 404, 'allowed, and not found');
  assert.equal(await statusOf(`http://127.0.0.1:${s.httpPort}/live/deny-x.flv`), 403);
  c.destroy();
  assert.deepEqual(s.ctx.counters.refused, { 'play hook-denied': 1 });
});

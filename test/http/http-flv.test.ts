/**
 * HTTP-FLV and WS-FLV playback on one server (src/http/flv-route.ts):
 * real ffmpeg reading HTTP-FLV, the byte stream as a browser player sees
 * it, WS-FLV against HTTP-FLV, and the HTTP edges (preflight, HEAD, 404s,
 * a player waiting for its publisher). The cluster and slow players are in
 * http-flv-fanout.test.ts.
 *
 * Synthetic publishers (test/helpers/synthetic-media.ts) put a counter in
 * every frame, so order, gaps and byte identity can be checked exactly; a
 * player's bytes are demuxed by test/helpers/flv-collector.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import WebSocket from 'ws';
import type { RunningServer } from '../../src/process/single.js';
import { decodeAmf0 } from '../../src/protocol/amf0.js';
import { ffprobePath, framemd5, makeClip, play, publish, type FfmpegProcess } from '../helpers/ffmpeg.js';
import { assertContiguousRun, assertMonotonic, describeRun } from '../helpers/packet-run.js';
import { AAC_SEQUENCE_HEADER, AVC_SEQUENCE_HEADER, META, counterOf, isKey, videoFrame } from '../helpers/synthetic-media.js';
import type { PublisherOptions, SyntheticPublisher } from '../helpers/synthetic-publisher.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { getFlv, wsFlv, type HttpFlvPlayer, type WsFlvPlayer } from '../helpers/flv-players.js';
import { rawRequest } from '../helpers/raw-http.js';
import { WS_MAX_MESSAGE } from '../../src/http/ws-flv-player.js';
import { assertMonotonicPerTrack, assertSameTags } from '../helpers/tag-asserts.js';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { sleep, waitFor, withTimeout } from '../helpers/net.js';

// ---- the server --------------------------------------------------------------

const CORS = 'https://player.example';
let srv: RunningServer;
const rtmp = new RtmpClientPool();
const procs: FfmpegProcess[] = [];
const closers: (() => void)[] = [];

before(async () => {
  srv = await startTestServer({ http: { corsOrigin: CORS }, media: { playWaitMs: 2000, republishGraceMs: 200 } });
});

after(async () => {
  for (const c of closers) c();
  rtmp.closeAll();
  await Promise.all(procs.map((p) => p.kill(1000)));
  await closeServer(srv);
});

const flvUrl = (name: string, s = srv): string => `http://127.0.0.1:${s.httpPort}/live/${name}.flv`;

const publisher = (name: string, opts: PublisherOptions = {}, s = srv): Promise<SyntheticPublisher> => rtmp.publisher(rtmpUrl(s.rtmpPort), name, opts);

function track<T extends HttpFlvPlayer | WsFlvPlayer>(c: T): T {
  closers.push(() => c.close());
  return c;
}

/** Stream codec types ffprobe (from @ffprobe-installer/linux-x64) finds at `url`. */
function ffprobeStreams(url: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(ffprobePath, ['-v', 'error', '-rw_timeout', '5000000', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', url], { timeout: 10000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout.split('\n').map((l) => l.trim()).filter(Boolean)),
    );
  });
}

// ---- cases -------------------------------------------------------------------

test('ffmpeg reads HTTP-FLV: a keyframe-first contiguous run of the clip, exactly one video and one audio stream', { timeout: 30000 }, async (t) => {
  const GOP = 25;
  const clip = await makeClip({ seconds: 4, fps: 25, gop: GOP, width: 160, height: 120 });
  const ref = await framemd5(clip.file);
  const pub = publish(`rtmp://127.0.0.1:${srv.rtmpPort}/live/ff`, clip);
  procs.push(pub);
  await waitFor(() => srv.directory.homeOf('live/ff') !== undefined, 5000, 'live/ff published');
  await sleep(1400); // join in the second GOP (1 s each): the player starts from the cached keyframe #25
  const player = play(flvUrl('ff'), { seconds: 2 });
  procs.push(player);
  const r = await withTimeout(player.done, 15000, 'ffmpeg HTTP-FLV player');
  assert.equal(r.exit.code, 0, `player exit ${r.exit.code ?? r.exit.signal}:\n${r.stderr.slice(-2000)}`);
  const run = assertContiguousRun(r, ref, { gop: GOP });
  assertMonotonic(r);
  t.diagnostic(`HTTP-FLV player: ${describeRun(run)}`);
  assert.ok(run.video.length >= 40, `${run.video.length} video packets for 2 s`);
  assert.ok(run.video.start >= GOP, `started at keyframe #${run.video.start}, not the stream's first`);
  // ffmpeg's own input listing ("Stream #0:N: Video: ...") counts the streams it saw...
  const input = r.stderr.slice(r.stderr.indexOf('Input #0'), r.stderr.indexOf('Output #0'));
  const kinds = [...input.matchAll(/Stream #0:\d+[^:]*: (\w+):/g)].map((m) => m[1]);
  assert.deepEqual(kinds.sort(), ['Audio', 'Video'], `input streams: ${input}`);
  // ...and so does ffprobe on a fresh connection: exactly one video and one audio stream, no data stream.
  const probe = await ffprobeStreams(flvUrl('ff'));
  assert.deepEqual(probe.sort(), ['audio', 'video'], `ffprobe streams: ${probe.join(',')}`);
  await withTimeout(pub.exited, 10000, 'publisher to finish the clip');
});

test('HTTP-FLV bytes: 200 video/x-flv with CORS; FLV header, plain onMetaData, AVC and AAC sequence headers, a keyframe; timestamps from 0', async () => {
  const src = await publisher('av', { gop: 10, frameMs: 40 });
  src.headers();
  const metaBody = src.onMetaData!;
  src.start();
  await waitFor(() => src.i >= 14, 3000, 'publisher into its second GOP');
  const joinedAt = src.i;
  const p = track(getFlv(flvUrl('av')));
  const res = await withTimeout(p.res, 3000, 'response head');
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'video/x-flv');
  assert.equal(res.headers['access-control-allow-origin'], CORS);
  await waitFor(() => p.flv.tags.filter((t) => t.type === 9).length >= 12, 3000, '10 video frames after the headers');
  src.stop();

  // 'F' 'L' 'V', version 1, TypeFlags 05 (audio | video), DataOffset 9, PreviousTagSize0 0.
  assert.deepEqual(p.flv.bytes().subarray(0, 13), Buffer.from('464c5601050000000900000000', 'hex'));
  const [meta, vseq, aseq, key, ...rest] = p.flv.tags;
  assert.equal(meta!.type, 18, 'first tag is a script tag');
  assert.equal(decodeAmf0(meta!.data)[0], 'onMetaData', 'named onMetaData, no @setDataFrame wrapper');
  assert.ok(meta!.data.equals(metaBody), 'onMetaData body is the encoder\'s, byte for byte');
  assert.equal(meta!.data.indexOf('@setDataFrame'), -1);
  assert.deepEqual([vseq!.type, aseq!.type], [9, 8]);
  assert.ok(vseq!.data.equals(AVC_SEQUENCE_HEADER), 'AVC sequence header');
  assert.ok(aseq!.data.equals(AAC_SEQUENCE_HEADER), 'AAC sequence header');
  assert.ok(isKey(key!), 'a video keyframe comes right after the sequence headers');
  const k = counterOf(key!);
  assert.equal(k % src.gop, 0);
  assert.ok(k > 0 && k <= joinedAt, `started at the cached keyframe #${k} (joined at frame ${joinedAt})`);
  assert.deepEqual([meta, vseq, aseq, key].map((x) => x!.ts), [0, 0, 0, 0], 'the player\'s timestamps start at 0');
  // Then the source's frames from that keyframe on, each stamped relative to it.
  const from = src.frames.findIndex((f) => f.type === 9 && counterOf(f) === k);
  const want = src.frames.slice(from + 1, from + 1 + rest.length);
  assert.equal(rest.length, want.length);
  for (const [i, g] of rest.entries()) {
    const w = want[i]!;
    assert.ok(g.type === w.type && g.data.equals(w.data) && g.ts === w.ts - k * src.frameMs, `tag ${i + 4}: got type ${g.type} ts ${g.ts} #${counterOf(g)}, want type ${w.type} ts ${w.ts - k * src.frameMs} #${counterOf(w)}`);
  }
  assertMonotonicPerTrack(p.flv.tags, 'av', [8, 9]);
  p.req.destroy();
});

test('HTTP-FLV of a video-only stream: header flags video only, no audio tags', async () => {
  const src = await publisher('vo', { gop: 5, frameMs: 40, audio: false });
  src.headers();
  for (let i = 0; i < 7; i++) src.frame();
  const p = track(getFlv(flvUrl('vo')));
  assert.equal((await withTimeout(p.res, 3000, 'response head')).statusCode, 200);
  src.start();
  await waitFor(() => p.flv.tags.filter(isKey).length >= 2, 3000, 'two keyframes');
  src.stop();
  assert.equal(p.flv.flags, 0x01, 'TypeFlags: video (01) only');
  assert.deepEqual(p.flv.tags.slice(0, 3).map((t) => t.type), [18, 9, 9]);
  assert.ok(p.flv.tags[1]!.data.equals(AVC_SEQUENCE_HEADER) && isKey(p.flv.tags[2]!));
  assert.equal(p.flv.tags.filter((t) => t.type === 8).length, 0);
  assertMonotonicPerTrack(p.flv.tags, 'vo', [8, 9]);
  p.req.destroy();
});

test(
  'a player waiting for its publisher gets audio in the FLV header flags when onMetaData announces audio before the first audio tag',
  { timeout: 20000 },
  async () => {
  const p = track(getFlv(flvUrl('early')));
  const src = await publisher('early', { gop: 10, frameMs: 40 });
  await waitFor(() => srv.ctx.flvPlayers.size > 0 && [...srv.ctx.flvPlayers].some((x) => x.streamKey === 'live/early'), 2000, 'player attached');
  // onMetaData (audiocodecid 10) and the video side first; the AAC sequence header a moment later.
  src.c.setDataFrame(META, 0);
  src.c.sendMedia(9, 0, AVC_SEQUENCE_HEADER);
  src.c.sendMedia(9, 0, videoFrame(0, true, 64));
  await waitFor(() => p.flv.tags.length >= 3, 3000, 'first tags');
  src.c.sendMedia(8, 0, AAC_SEQUENCE_HEADER);
  src.i = 1;
  for (let i = 0; i < 5; i++) src.frame();
  await waitFor(() => p.flv.has(8, 5), 3000, 'audio frame 5');
  assert.equal(p.flv.flags, 0x05, `TypeFlags ${p.flv.flags?.toString(16)}: the stream has audio and video (flv.js/mpegts.js set up tracks from these flags)`);
  p.req.destroy();
  },
);

test('WS-FLV and HTTP-FLV players joining at the same moment receive byte-identical streams', async () => {
  // Both wait (media.playWaitMs) for a publisher that has not started yet: the same join point.
  const h = track(getFlv(flvUrl('same')));
  const w = track(wsFlv(flvUrl('same').replace('http:', 'ws:')));
  await withTimeout(w.opened, 3000, 'WebSocket open');
  await waitFor(() => [...srv.ctx.flvPlayers].filter((x) => x.streamKey === 'live/same').length === 2, 2000, 'both players attached');
  const src = await publisher('same', { gop: 10, frameMs: 20 });
  src.headers();
  const metaBody = src.onMetaData!;
  for (let i = 0; i < 40; i++) {
    src.frame();
    if (i % 8 === 7) await sleep(20); // a few flushes, not one batch
  }
  const last = src.i - 1;
  await waitFor(() => h.flv.has(8, last) && w.flv.has(8, last), 3000, `frame ${last} at both players`);
  assert.equal((await h.res).statusCode, 200);
  assert.equal(w.textMessages, 0, 'WS-FLV sends binary frames only');
  const hb = h.flv.bytes();
  const wb = w.flv.bytes();
  assert.equal(wb.length, hb.length, `WS ${wb.length} bytes, HTTP ${hb.length} bytes`);
  assert.ok(wb.equals(hb), 'the WS stream (binary frames concatenated) is the HTTP-FLV body, byte for byte');
  assertSameTags(w.flv.tags, h.flv.tags, 'WS-FLV against HTTP-FLV');
  // And that stream is the publisher's, from its first tag.
  const want = [
    { type: 18, ts: 0, data: metaBody },
    { type: 9, ts: 0, data: AVC_SEQUENCE_HEADER },
    { type: 8, ts: 0, data: AAC_SEQUENCE_HEADER },
    ...src.frames,
  ];
  assertSameTags(h.flv.tags, want, 'HTTP-FLV against the publisher');
  w.ws.close();
  h.req.destroy();
});

test('WS-FLV of 100 KB frames: no message over the bound (uWS keeps a socket\'s largest message), the bytes still the HTTP-FLV body', async () => {
  const h = track(getFlv(flvUrl('big')));
  const w = track(wsFlv(flvUrl('big').replace('http:', 'ws:')));
  await withTimeout(w.opened, 3000, 'WebSocket open');
  await waitFor(() => [...srv.ctx.flvPlayers].filter((x) => x.streamKey === 'live/big').length === 2, 2000, 'both players attached');
  const src = await publisher('big', { gop: 4, frameMs: 20, videoBytes: 100_000 });
  src.headers();
  for (let i = 0; i < 8; i++) src.frame();
  const last = src.i - 1;
  await waitFor(() => h.flv.has(8, last) && w.flv.has(8, last), 5000, `frame ${last} at both players`);
  assert.ok(w.maxMessage <= WS_MAX_MESSAGE, `largest WS message ${w.maxMessage} bytes, bound ${WS_MAX_MESSAGE}`);
  assert.ok(w.flv.bytes().equals(h.flv.bytes()), 'the WS messages concatenated are the HTTP-FLV body, byte for byte');
  assertSameTags(w.flv.tags.filter((t) => t.type === 9 && t.data.length === 100_000), src.frames.filter((f) => f.type === 9), 'every 100 KB frame, whole');
  w.ws.close();
  h.req.destroy();
});

test('HTTP edges: preflight, HEAD, 404 for unknown streams and other paths, a GET that waits for its publisher', async () => {
  const s0 = await startTestServer({ http: { corsOrigin: CORS }, media: { playWaitMs: 0 } }, 'startServer (playWaitMs 0)');
  closers.push(() => void s0.close());
  const port = s0.httpPort!;

  const pre = await rawRequest(
    port,
    'OPTIONS /live/x.flv HTTP/1.1\r\nHost: t\r\nOrigin: https://page.example\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: range\r\n\r\n',
  );
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], CORS);
  assert.match(pre.headers['access-control-allow-methods'] ?? '', /\bGET\b/);
  assert.match(pre.headers['access-control-allow-methods'] ?? '', /\bHEAD\b/);
  assert.equal(pre.headers['access-control-allow-headers'], 'range', 'the asked-for request headers are allowed');
  assert.equal(pre.body.length, 0);

  // HEAD of a live stream: 200 and the playback headers, no body, and no player left behind.
  const src = await publisher('h', { gop: 5 }, s0);
  src.headers();
  src.frame();
  await waitFor(() => s0.directory.homeOf('live/h') !== undefined, 2000, 'live/h live');
  const head = await rawRequest(port, 'HEAD /live/h.flv HTTP/1.1\r\nHost: t\r\n\r\n');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-type'], 'video/x-flv');
  assert.equal(head.headers['access-control-allow-origin'], CORS);
  assert.equal(head.body.length, 0, `HEAD answered with a body: ${JSON.stringify(head.body.subarray(0, 40).toString('latin1'))}`);
  assert.equal(s0.ctx.flvPlayers.size, 0);

  const headMissing = await rawRequest(port, 'HEAD /live/none.flv HTTP/1.1\r\nHost: t\r\n\r\n');
  assert.equal(headMissing.status, 404);
  assert.equal(headMissing.body.length, 0);
  const getMissing = await rawRequest(port, 'GET /live/none.flv HTTP/1.1\r\nHost: t\r\n\r\n');
  assert.equal(getMissing.status, 404);
  assert.equal(getMissing.headers['access-control-allow-origin'], CORS, 'a browser player can read the 404');
  assert.ok(getMissing.body.length > 0 && getMissing.body.length < 200, `short body: ${JSON.stringify(getMissing.body.toString())}`);
  for (const path of ['/live/h.mp4', '/h.flv', '/live/h.flv.txt', '/']) {
    const r = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
    assert.equal(r.status, 404, `GET ${path}`);
  }
  const wsMissing = new WebSocket(`ws://127.0.0.1:${port}/live/none.flv`);
  const wsStatus = await withTimeout(
    new Promise<number>((resolve) => {
      wsMissing.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      wsMissing.once('open', () => resolve(101));
      wsMissing.once('error', () => resolve(-1));
    }),
    3000,
    'WS upgrade of an unknown stream',
  );
  wsMissing.terminate();
  assert.equal(wsStatus, 404, 'WS upgrade of an unknown stream');

  // playWaitMs 2000 (the main server): a GET made 300 ms before the publish gets the stream.
  const t0 = Date.now();
  const p = track(getFlv(flvUrl('later')));
  const answeredAt = p.res.then(() => Date.now());
  await sleep(300);
  const late = await publisher('later', { gop: 5 });
  late.headers();
  const publishedAt = Date.now();
  late.start();
  const res = await withTimeout(p.res, 3000, 'response to the waiting GET');
  assert.equal(res.statusCode, 200);
  const at = await answeredAt;
  assert.ok(at >= publishedAt, `answered ${at - t0} ms after the request, ${at - publishedAt} ms after the publish`);
  await waitFor(() => p.flv.tags.some(isKey) && p.flv.has(8, 2), 3000, 'media on the waiting GET');
  late.stop();
  assert.deepEqual(p.flv.tags.slice(0, 3).map((x) => x.type), [18, 9, 8]);
  p.req.destroy();
  await closeServer(s0, 'close the playWaitMs 0 server');
});

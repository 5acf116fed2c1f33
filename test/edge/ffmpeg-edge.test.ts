// Origin + edge with real ffmpeg: ffmpeg publishes a clip to a one-thread
// origin as live/fan; 20 players arrive at a 2-worker edge at once as soon
// as the publish is live (8 ffmpeg RTMP players, 6 HTTP-FLV, 6 WS-FLV). The
// kernel spreads them over both workers, the edge pulls the stream from the
// origin once, and every player receives a keyframe-first contiguous run of
// the clip:
//
//   ffmpeg players  framemd5 of what arrived against the clip's (size, hash
//                   per packet, packet-run.ts), sequence headers as extradata
//   FLV players     the demuxed tags against the clip file's own FLV tags,
//                   payload bytes: onMetaData, the clip's AVC and AAC sequence
//                   headers byte for byte, then per track a run of the clip
//                   (video from a keyframe), video timestamps spaced as the
//                   clip's
//
// The origin's admin API (/api/v1/clients, /api/v1/streams) shows exactly
// one player of live/fan, the edge's upstream, next to the ffmpeg publisher.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { RunningServer } from '../../src/process/single.js';
import type { RunningCluster } from '../../src/process/primary.js';
import { assertFlvClipRun, readClip, type ClipReference } from '../helpers/clip-tags.js';
import { framemd5, makeClip, play, publish, type Clip, type FfmpegProcess, type Player } from '../helpers/ffmpeg.js';
import { packetsOf } from '../helpers/framemd5.js';
import { assertContiguousRun, assertMonotonic, describeRun } from '../helpers/packet-run.js';
import { getFlv, wsFlv, type HttpFlvPlayer, type WsFlvPlayer } from '../helpers/flv-players.js';
import { playersPerWorker } from '../helpers/cluster-placement.js';
import { closeCluster, closeServer, startTestCluster, startTestServer } from '../helpers/servers.js';
import { waitFor, withTimeout } from '../helpers/net.js';
import type { ClientJson } from '../helpers/admin-json.js';

const FPS = 25;
/** A keyframe every second. */
const GOP = FPS;
const CLIP_SECONDS = 7;
/** What each ffmpeg player records (-t): the players join within ~2 s of the publish, so the clip outlasts it. */
const PLAY_SECONDS = 3;
const FF_PLAYERS = 8;
const HTTP_PLAYERS = 6;
const WS_PLAYERS = 6;
const TOTAL = FF_PLAYERS + HTTP_PLAYERS + WS_PLAYERS;
/** Video frames every FLV player must have before its checks (2 s of video). */
const FLV_ENOUGH = 2 * FPS;
const NAME = 'fan';
const KEY = `live/${NAME}`;

// ---- the clip's FLV tags ---------------------------------------------------------

/** readClip, and the clip is what makeClip promises: a keyframe exactly every GOP frames. */
function clipReference(clip: Clip): ClipReference {
  const ref = readClip(clip);
  ref.video.forEach((t, i) => assert.equal(t.kind === 'key', i % GOP === 0, `clip video #${i}: ${t.kind}`));
  return ref;
}

// ---- the origin's admin API --------------------------------------------------------

interface StreamJson {
  key: string;
  state: string;
  source: { type: string; origin: string | null } | null;
  players: { rtmp: number; 'http-flv': number; 'ws-flv': number; total: number };
}

interface UpstreamJson {
  stream: string;
  kind: string;
  origin: string | null;
  state: string;
  worker: number;
}

/** GET `path` on the admin port `port` (own connection), parsed JSON; a non-200 fails. */
function getJson<T>(port: number, path: string): Promise<T> {
  return withTimeout(
    new Promise<T>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`GET ${path}: ${res.statusCode} ${body}`));
          try {
            resolve(JSON.parse(body) as T);
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', reject);
      });
      req.on('error', reject);
    }),
    5000,
    `GET ${path}`,
  );
}

// ---- the case ------------------------------------------------------------------------

test(
  'ffmpeg publishes to the origin; 20 RTMP, HTTP-FLV and WS-FLV players on a 2-worker edge get a keyframe-first contiguous run of the clip; the origin lists one player, the edge',
  { timeout: 45000 },
  async (t) => {
    const clip = await makeClip({ seconds: CLIP_SECONDS, fps: FPS, gop: GOP, width: 160, height: 120 });
    const [ref, md5] = [clipReference(clip), await framemd5(clip.file)];

    let origin: RunningServer | undefined;
    let edge: RunningCluster | undefined;
    let pub: FfmpegProcess | undefined;
    const ffPlayers: Player[] = [];
    const flvs: HttpFlvPlayer[] = [];
    const wss: WsFlvPlayer[] = [];
    try {
      // One thread (workers 0) serves the admin API; the edge is a 2-worker cluster pulling from it.
      origin = await startTestServer({ cluster: { workers: 0 }, admin: { host: '127.0.0.1', port: 0 }, player: { mergeWriteMs: 0 } });
      const adminPort = origin.adminPort;
      assert.ok(adminPort, 'the origin serves its admin API');
      const originUrl = `rtmp://127.0.0.1:${origin.rtmpPort}`;
      edge = await startTestCluster({ mode: 'edge', edge: { origins: [originUrl] }, player: { mergeWriteMs: 0 } });

      pub = publish(`${originUrl}/live/${NAME}`, clip);
      const publisher = pub;
      await waitFor(
        () => {
          if (!publisher.running) throw new Error(`the ffmpeg publisher exited early:\n${publisher.stderr().slice(-2000)}`);
          return origin!.directory.homeOf(KEY) !== undefined;
        },
        10000,
        `${KEY} live at the origin`,
      );
      assert.equal(edge.directory.list().length, 0, 'the edge has nothing before its first player');

      // Everyone at once, interleaved by protocol: no await between the arrivals.
      const rtmpUrl = `rtmp://127.0.0.1:${edge.rtmpPort}/live/${NAME}`;
      const flvUrl = `http://127.0.0.1:${edge.httpPort}/live/${NAME}.flv`;
      for (let i = 0; i < TOTAL; i++) {
        if (i % 3 === 1 && flvs.length < HTTP_PLAYERS) flvs.push(getFlv(flvUrl));
        else if (i % 3 === 2 && wss.length < WS_PLAYERS) wss.push(wsFlv(flvUrl.replace('http:', 'ws:')));
        else ffPlayers.push(play(rtmpUrl, { seconds: PLAY_SECONDS, killAfterMs: 25000 }));
      }
      assert.deepEqual([ffPlayers.length, flvs.length, wss.length], [FF_PLAYERS, HTTP_PLAYERS, WS_PLAYERS]);
      // Heads go out with the first media bytes, after the edge's pull is up: under a full parallel test run on 2 cores this has taken over 10 s.
      const heads = await withTimeout(Promise.all(flvs.map((f) => f.res)), 20000, 'HTTP-FLV response heads');
      for (const [i, r] of heads.entries()) assert.equal(r.statusCode, 200, `http-flv player ${i}: status`);
      await withTimeout(Promise.all(wss.map((w) => w.opened)), 10000, 'WS-FLV opens');

      // All 20 attached at the edge, on both workers (the kernel's pick per connection: all on one is ~2^-19).
      let perWorker = new Map<number, number>();
      const sum = (m: Map<number, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
      await waitFor(
        async () => {
          for (const [i, p] of ffPlayers.entries()) if (!p.running) throw new Error(`ffmpeg player ${i} exited before all attached:\n${p.stderr().slice(-2000)}`);
          perWorker = await playersPerWorker(edge!, KEY);
          return sum(perWorker) === TOTAL;
        },
        10000,
        `${TOTAL} players attached at the edge`,
        50,
      );
      t.diagnostic(`players per edge worker: ${JSON.stringify([...perWorker])}`);
      assert.equal(perWorker.size, 2, 'two edge workers report');
      for (const [w, n] of perWorker) assert.ok(n > 0, `edge worker ${w} has players: ${JSON.stringify([...perWorker])}`);

      // The origin's API while all of them play: its publisher (ffmpeg) and one player of live/fan, the edge's upstream.
      const { clients } = await getJson<{ clients: ClientJson[] }>(adminPort, '/api/v1/clients?limit=1000');
      const players = clients.filter((c) => c.role === 'player');
      assert.equal(players.length, 1, `one player at the origin: ${JSON.stringify(clients)}`);
      assert.equal(players[0]!.stream, KEY, `the origin's player plays ${KEY}`);
      assert.equal(players[0]!.protocol, 'rtmp', 'the edge pulls over RTMP');
      const publishers = clients.filter((c) => c.role === 'publisher');
      assert.equal(publishers.length, 1, `one publisher at the origin: ${JSON.stringify(clients)}`);
      assert.equal(publishers[0]!.stream, KEY);
      const { streams } = await getJson<{ streams: StreamJson[] }>(adminPort, '/api/v1/streams');
      const s = streams.find((x) => x.key === KEY);
      assert.equal(s?.state, 'live', `${KEY} live at the origin: ${JSON.stringify(streams)}`);
      assert.equal(s?.source?.type, 'publisher', 'fed by an encoder at the origin');
      assert.deepEqual(s?.players, { rtmp: 1, 'http-flv': 0, 'ws-flv': 0, hls: 0, total: 1 }, 'the origin counts one player of the stream');
      assert.equal(origin.ctx.counters.playsTotal, 1, 'the origin never saw a second play');
      // And the edge's own API: one pull upstream, from that origin, playing.
      const { upstreams } = await getJson<{ upstreams: UpstreamJson[] }>(edge.adminPort, '/api/v1/upstreams');
      assert.equal(upstreams.length, 1, `one upstream at the edge: ${JSON.stringify(upstreams)}`);
      assert.deepEqual([upstreams[0]!.stream, upstreams[0]!.kind, upstreams[0]!.origin, upstreams[0]!.state], [KEY, 'pull', originUrl, 'playing']);

      // ffmpeg players: PLAY_SECONDS of the clip each, byte-exact by framemd5, from a keyframe.
      const results = await withTimeout(Promise.all(ffPlayers.map((p) => p.done)), 20000, 'ffmpeg players to finish');
      for (const [i, r] of results.entries()) {
        assert.equal(r.exit.code, 0, `ffmpeg player ${i} exit ${r.exit.code ?? r.exit.signal}:\n${r.stderr.slice(-2000)}`);
        const run = assertContiguousRun(r, md5, { gop: GOP });
        assertMonotonic(r);
        t.diagnostic(`ffmpeg player ${i}: ${describeRun(run)}`);
        assert.equal(packetsOf(r, 'video').length, run.video.length);
        assert.ok(run.video.length >= PLAY_SECONDS * FPS - 5, `ffmpeg player ${i}: ${run.video.length} video packets for ${PLAY_SECONDS} s`);
        assert.ok(run.audio.length >= PLAY_SECONDS * 40, `ffmpeg player ${i}: ${run.audio.length} audio packets for ${PLAY_SECONDS} s`);
      }

      // FLV players: against the clip's own tags.
      const flvPlayers = [...flvs.map((p, i) => ({ what: `http-flv player ${i}`, flv: p.flv })), ...wss.map((p, i) => ({ what: `ws-flv player ${i}`, flv: p.flv }))];
      await waitFor(
        () => flvPlayers.every((p) => p.flv.tags.filter((x) => x.type === 9).length >= FLV_ENOUGH + 1),
        10000,
        `every FLV player has ${FLV_ENOUGH} video frames`,
      );
      for (const p of flvPlayers) {
        assert.equal(p.flv.flags, 0x05, `${p.what}: FLV header flags audio and video`);
        const run = assertFlvClipRun(p.flv.tags, ref, p.what);
        t.diagnostic(`${p.what}: video ${run.video}+${run.frames}, audio from ${run.audio}`);
        assert.ok(run.frames >= FLV_ENOUGH);
      }
      for (const [i, w] of wss.entries()) assert.equal(w.textMessages, 0, `ws-flv player ${i}: binary messages only`);
      for (const [i, f] of flvs.entries()) assert.equal(f.ended, false, `http-flv player ${i} still connected`);
      for (const [i, w] of wss.entries()) assert.equal(w.ws.readyState, w.ws.OPEN, `ws-flv player ${i} still connected`);
    } finally {
      for (const f of flvs) f.close();
      for (const w of wss) w.close();
      await Promise.all([...ffPlayers, ...(pub ? [pub] : [])].map((p) => p.kill(1000)));
      await closeCluster(edge);
      await closeServer(origin);
    }
  },
);

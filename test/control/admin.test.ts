/**
 * The control plane of a two-worker cluster, as an operator uses it: a
 * synthetic RTMP publisher on live/x, players over RTMP, HTTP-FLV and
 * WS-FLV, then /metrics (parsed by the strict exposition-format reader in
 * test/helpers/prometheus.ts), the streams and clients API, kicking a client, dropping a
 * publisher, unknown ids, and /readyz turning 503 while the cluster closes.
 *
 * The cases share one cluster and run in order: each leaves the traffic
 * the next one expects. Every wait is bounded; `after` closes everything.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import type { RunningCluster } from '../../src/process/primary.js';
import type { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import { buckets, parseExposition, sum, value, type MetricFamily } from '../helpers/prometheus.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { getFlv, wsFlv, type HttpFlvPlayer, type WsFlvPlayer } from '../helpers/flv-players.js';
import { closeCluster, startTestCluster } from '../helpers/servers.js';
import { sleep, waitFor, withTimeout } from '../helpers/net.js';
import type { ClientJson } from '../helpers/admin-json.js';

// ---- HTTP ----------------------------------------------------------------------

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One admin request on its own connection (no keep-alive to hold shutdown up). */
function admin(method: string, path: string): Promise<Res> {
  return withTimeout(
    new Promise<Res>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: cluster.adminPort, method, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    }),
    5000,
    `${method} ${path}`,
  );
}

async function getJson<T>(path: string, status = 200): Promise<T> {
  const r = await admin('GET', path);
  assert.equal(r.status, status, `GET ${path}: ${r.body}`);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  return JSON.parse(r.body) as T;
}

async function scrape(): Promise<Map<string, MetricFamily>> {
  const r = await admin('GET', '/metrics');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parseExposition(r.body);
}

function assertError(r: Res, status: number, code: string): void {
  assert.equal(r.status, status, r.body);
  const e = (JSON.parse(r.body) as { error: { code: string; message: string } }).error;
  assert.equal(e.code, code);
  assert.ok(e.message.length > 0, 'error has a message');
}

// ---- the cluster and its traffic -------------------------------------------------

interface StreamJson {
  key: string;
  app: string;
  name: string;
  state: string;
  home: number | null;
  video: { codec: string; width: number; height: number; fps: number } | null;
  audio: { codec: string } | null;
  ingest: { bitsPerSecond: number; bytes: number };
  players: Record<'rtmp' | 'http-flv' | 'ws-flv' | 'total', number>;
  uptimeSeconds: number | null;
}

let cluster: RunningCluster;
const rtmp = new RtmpClientPool();
const others: { close(): void }[] = [];
let pub: RtmpClient;
let playerA: RtmpClient;
let playerB: RtmpClient;
const statusesB: string[] = [];
let flv: HttpFlvPlayer;
let ws: WsFlvPlayer;

const connect = (): Promise<RtmpClient> => rtmp.connect(rtmpUrl(cluster.rtmpPort));

const clientOf = (list: ClientJson[], c: RtmpClient): ClientJson | undefined => list.find((x) => x.peer === `127.0.0.1:${c.socket.localPort}`);

async function allClients(): Promise<ClientJson[]> {
  return (await getJson<{ clients: ClientJson[] }>('/api/v1/clients?limit=1000')).clients;
}

before(async () => {
  // drainDelayMs: /readyz reads 503 this long before workers stop (the last case polls it).
  cluster = await startTestCluster({ cluster: { workers: 2, drainDelayMs: 400, shutdownGraceMs: 3000, crashHook: true }, rtmp: { publishNotify: true } });
  // 25 fps of small frames, a keyframe every 10, audio between them.
  const src = await rtmp.publisher(rtmpUrl(cluster.rtmpPort), 'x', { gop: 10, frameMs: 40, videoBytes: 400, audioBytes: 6 });
  pub = src.c;
  src.headers();
  src.start();
  playerA = await connect();
  playerB = await connect();
  playerB.on('status', (s) => statusesB.push(s.code));
  await Promise.all([playerA.play('x'), playerB.play('x')]);
  flv = getFlv(`http://127.0.0.1:${cluster.httpPort}/live/x.flv`);
  others.push(flv);
  ws = wsFlv(`ws://127.0.0.1:${cluster.httpPort}/live/x.flv`);
  others.push(ws);
  await waitFor(() => flv.flv.byteLength > 0 && ws.ws.readyState === WebSocket.OPEN, 5000, 'FLV players receiving');
});

after(async () => {
  for (const o of others) o.close();
  rtmp.closeAll();
  await closeCluster(cluster);
});

// ---- cases ---------------------------------------------------------------------

test('/metrics is valid exposition text and its figures follow the traffic', async () => {
  const first = await scrape();
  await sleep(300);
  const second = await scrape();
  for (const p of ['rtmp', 'http-flv']) {
    const a = value(first, 'sluice_bytes_out_total', { protocol: p });
    const b = value(second, 'sluice_bytes_out_total', { protocol: p });
    assert.ok(b > a, `${p} bytes out grow between scrapes (${a} -> ${b})`);
  }
  assert.ok(value(second, 'sluice_bytes_in_total', { protocol: 'rtmp' }) > 0, 'rtmp bytes in');
  assert.equal(value(second, 'sluice_players', { protocol: 'rtmp' }), 2);
  assert.equal(value(second, 'sluice_players', { protocol: 'http-flv' }), 1);
  assert.equal(value(second, 'sluice_players', { protocol: 'ws-flv' }), 1);
  assert.equal(value(second, 'sluice_publishers'), 1);
  assert.equal(value(second, 'sluice_streams'), 1);
  assert.equal(value(second, 'sluice_connections', { protocol: 'rtmp' }), 3);
  assert.ok(value(second, 'sluice_connections_total', { protocol: 'ws-flv' }) >= 1);
  // The per-worker twins add up to the totals.
  assert.equal(sum(second, 'sluice_worker_players', { protocol: 'rtmp' }), 2);
  assert.equal(new Set(second.get('sluice_worker_players')!.samples.map((s) => s.labels.worker)).size, 2, 'both workers report');
  assert.equal(value(second, 'sluice_workers'), 2);
  assert.equal(value(second, 'sluice_worker_restarts_total'), 0);
  // Histograms (buckets checked by the parser): three handshakes, four first frames, many egress delays.
  for (const name of ['sluice_handshake_seconds', 'sluice_first_frame_seconds', 'sluice_ingest_to_egress_seconds']) {
    assert.equal(second.get(name)!.type, 'histogram', name);
  }
  assert.equal(value(second, 'sluice_handshake_seconds_count'), 3);
  assert.ok(value(second, 'sluice_handshake_seconds_sum') > 0);
  assert.ok(value(second, 'sluice_first_frame_seconds_count') >= 4);
  const egress = value(second, 'sluice_ingest_to_egress_seconds_count');
  assert.ok(egress > 0);
  const within5s = buckets(second, 'sluice_ingest_to_egress_seconds').find(([le]) => le === 5)![1];
  assert.equal(within5s, egress, 'every tag handed over within 5 s');
  assert.equal(sum(second, 'sluice_worker_ingest_to_egress_seconds_count'), egress);
  assert.equal(value(second, 'sluice_build_info'), 1);
  assert.ok(second.has('process_cpu_seconds_total'), 'process metrics');
});

test('/api/v1/streams lists the stream with its codecs, players by protocol and home worker', async () => {
  const { streams } = await getJson<{ streams: StreamJson[] }>('/api/v1/streams');
  assert.equal(streams.length, 1);
  const s = streams[0]!;
  assert.equal(s.key, 'live/x');
  assert.equal(s.app, 'live');
  assert.equal(s.name, 'x');
  assert.equal(s.state, 'live');
  assert.deepEqual(s.video, { codec: 'avc', width: 320, height: 240, fps: 25 });
  assert.deepEqual(s.audio, { codec: 'aac' });
  assert.deepEqual(s.players, { rtmp: 2, 'http-flv': 1, 'ws-flv': 1, hls: 0, total: 4 });
  assert.ok(s.ingest.bitsPerSecond > 0 && s.ingest.bytes > 0, `ingest measured: ${JSON.stringify(s.ingest)}`);
  assert.ok(s.uptimeSeconds !== null && s.uptimeSeconds >= 0);
  const pubClient = clientOf(await allClients(), pub);
  assert.equal(s.home, pubClient?.worker, 'home is the publisher’s worker');
  assert.equal(s.home, cluster.directory.homeOf('live/x'));

  const one = await getJson<StreamJson>('/api/v1/streams/live/x');
  assert.deepEqual([one.key, one.home, one.video, one.audio, one.players], [s.key, s.home, s.video, s.audio, s.players]);
  assertError(await admin('GET', '/api/v1/streams/live/nope'), 404, 'STREAM_NOT_FOUND');
});

test('/api/v1/clients lists every connection with its worker, paged', async () => {
  const page = await getJson<{ total: number; offset: number; limit: number; clients: ClientJson[] }>('/api/v1/clients');
  assert.equal(page.total, 5);
  assert.equal(page.clients.length, 5);
  const snaps = await cluster.snapshots();
  for (const [c, role] of [[pub, 'publisher'], [playerA, 'player'], [playerB, 'player']] as const) {
    const j = clientOf(page.clients, c);
    assert.ok(j, `client on port ${c.socket.localPort} listed`);
    assert.equal(j.protocol, 'rtmp');
    assert.equal(j.role, role);
    assert.equal(j.stream, 'live/x');
    assert.ok(j.bytesIn > 0 && j.bytesOut > 0);
    const owner = snaps.find((w) => w.sessions.some((x) => x.peer === j.peer));
    assert.equal(j.worker, owner?.worker, `${j.id}: worker`);
    assert.match(j.id, new RegExp(`^${j.worker}-rtmp-\\d+$`));
  }
  const flvClients = page.clients.filter((c) => c.protocol !== 'rtmp').map((c) => `${c.protocol} ${c.role} ${c.stream}`);
  assert.deepEqual(flvClients.sort(), ['http-flv player live/x', 'ws-flv player live/x']);
  for (const c of page.clients) assert.ok(!Number.isNaN(Date.parse(c.since)), 'since is a date');

  const p2 = await getJson<{ total: number; clients: ClientJson[] }>('/api/v1/clients?limit=2&offset=3');
  assert.equal(p2.total, 5);
  assert.deepEqual(p2.clients.map((c) => c.id), page.clients.slice(3, 5).map((c) => c.id), 'a page is a slice of the same order');
  assertError(await admin('GET', '/api/v1/clients?limit=-1'), 400, 'BAD_REQUEST');
  assertError(await admin('GET', '/api/v1/clients?offset=abc'), 400, 'BAD_REQUEST');
  const byId = await getJson<ClientJson>(`/api/v1/clients/${page.clients[0]!.id}`);
  assert.equal(byId.peer, page.clients[0]!.peer);
});

test('DELETE /api/v1/clients/{id} closes that connection and it leaves the list', async () => {
  const list = await allClients();
  const a = clientOf(list, playerA)!;
  const closedA = new Promise<void>((resolve) => playerA.once('close', () => resolve()));
  const r = await admin('DELETE', `/api/v1/clients/${a.id}`);
  assert.equal(r.status, 204, r.body);
  await withTimeout(closedA, 3000, 'kicked RTMP player sees its connection close');

  const h = list.find((c) => c.protocol === 'http-flv')!;
  assert.equal((await admin('DELETE', `/api/v1/clients/${h.id}`)).status, 204);
  await waitFor(() => flv.ended, 3000, 'kicked HTTP-FLV response ends');

  const after = await allClients();
  assert.equal(after.find((c) => c.id === a.id), undefined, 'kicked RTMP player gone from the list');
  assert.equal(after.find((c) => c.id === h.id), undefined, 'kicked HTTP-FLV player gone from the list');
  assert.ok(clientOf(after, playerB), 'the other player stays');
  assertError(await admin('DELETE', `/api/v1/clients/${a.id}`), 404, 'CLIENT_NOT_FOUND');
});

test('DELETE /api/v1/streams/{app}/{name} drops the publisher; players get UnpublishNotify', async () => {
  const closedPub = new Promise<void>((resolve) => pub.once('close', () => resolve()));
  const r = await admin('DELETE', '/api/v1/streams/live/x');
  assert.equal(r.status, 204, r.body);
  await withTimeout(closedPub, 3000, 'publisher sees its connection close');
  await waitFor(() => statusesB.includes('NetStream.Play.UnpublishNotify'), 3000, 'player gets UnpublishNotify');
  assert.ok(!playerB.isClosed, 'the player waits out the grace period');
  const s = await getJson<StreamJson>('/api/v1/streams/live/x');
  assert.equal(s.state, 'grace');
  assert.equal(s.home, null);
  assertError(await admin('DELETE', '/api/v1/streams/live/x'), 409, 'STREAM_NOT_LIVE');
  assertError(await admin('DELETE', '/api/v1/streams/live/nope'), 404, 'STREAM_NOT_FOUND');
});

test('unknown ids, paths and methods answer JSON errors', async () => {
  for (const id of ['9-rtmp-12345', '1-ws-flv-999999', 'nonsense', '1-quic-1']) {
    assertError(await admin('GET', `/api/v1/clients/${id}`), 404, 'CLIENT_NOT_FOUND');
    assertError(await admin('DELETE', `/api/v1/clients/${id}`), 404, 'CLIENT_NOT_FOUND');
  }
  assertError(await admin('GET', '/api/v1/nothing'), 404, 'NOT_FOUND');
  const post = await admin('POST', '/api/v1/streams');
  assertError(post, 405, 'METHOD_NOT_ALLOWED');
  assert.equal(post.headers.allow, 'GET, HEAD');
  const put = await admin('PUT', '/api/v1/clients/1-rtmp-1');
  assertError(put, 405, 'METHOD_NOT_ALLOWED');
  assert.equal(put.headers.allow, 'GET, HEAD, DELETE');
  const head = await admin('HEAD', '/api/v1/streams');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal((await admin('GET', '/healthz')).body, 'ok\n');
  assert.equal((await admin('GET', '/readyz')).status, 200);
});

test('a worker that dies counts as a restart, and what it counted stays in the totals', async () => {
  const before = await scrape();
  const accepted = value(before, 'sluice_connections_total', { protocol: 'rtmp' });
  // A worker that has accepted connections: without them in the totals, the total would drop.
  const busy = before.get('sluice_worker_connections_total')!.samples.find((x) => x.labels.protocol === 'rtmp' && x.value > 0)!;
  const victim = Number(busy.labels.worker);
  cluster.supervisor.crash(victim, 'admin test drill');
  let after = before;
  await waitFor(
    async () => {
      after = await scrape();
      return value(after, 'sluice_worker_restarts_total') === 1 && value(after, 'sluice_workers') === 2;
    },
    8000,
    'the restart is counted and the replacement answers',
  );
  assert.ok(value(after, 'sluice_connections_total', { protocol: 'rtmp' }) >= accepted, 'the total does not go back');
  const workers = new Set(after.get('sluice_worker_connections_total')!.samples.map((x) => x.labels.worker));
  assert.ok(!workers.has(String(victim)) && workers.size === 2, `per-worker series are the running workers': ${[...workers].join(', ')}`);
  await waitFor(() => cluster.ready(), 5000, 'ready again');
});

test('/readyz turns 503 while the cluster closes', async () => {
  const closing = cluster.close('test shutdown');
  const seen: (number | string)[] = [];
  const deadline = Date.now() + 8000;
  // Until the admin port itself goes away.
  while (Date.now() < deadline) {
    const status = await admin('GET', '/readyz').then((r) => r.status, (e: NodeJS.ErrnoException) => e.code ?? 'error');
    seen.push(status);
    if (status !== 200 && status !== 503) break;
    await sleep(20);
  }
  const first503 = seen.indexOf(503);
  assert.ok(first503 >= 0, `503 seen before the port closed: ${seen.join(' ')}`);
  assert.ok(!seen.slice(first503).includes(200), `never ready again once draining: ${seen.join(' ')}`);
  assert.ok(typeof seen[seen.length - 1] === 'string', `the admin port closes in the end: ${seen.join(' ')}`);
  await withTimeout(closing, 8000, 'cluster.close()');
});

/**
 * The control plane of a two-worker cluster, as an operator uses it: a
 * synthetic RTMP publisher on live/x, players over RTMP, HTTP-FLV and
 * WS-FLV, then /metrics (parsed by a strict exposition-format reader
 * below), the streams and clients API, kicking a client, dropping a
 * publisher, unknown ids, and /readyz turning 503 while the cluster closes.
 *
 * The cases share one cluster and run in order: each leaves the traffic
 * the next one expects. Every wait is bounded; `after` closes everything.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import { startCluster, type RunningCluster } from '../../src/server/cluster.js';
import { RtmpClient } from '../../src/server/rtmp-client.js';
import { sleep, waitFor, withTimeout } from '../helpers/net.js';

// ---- a strict reader of the Prometheus text format (0.0.4) --------------------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface MetricFamily {
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/;
const SUFFIXES: Record<string, string[]> = { summary: ['', '_sum', '_count'], histogram: ['_bucket', '_sum', '_count'] };

/** A float as Go's strconv.ParseFloat reads it (the format's definition): NaN and Inf in any case (prom-client writes "Nan"). */
function parseValue(s: string, line: string): number {
  if (/^nan$/i.test(s)) return NaN;
  if (/^\+?inf(inity)?$/i.test(s)) return Infinity;
  if (/^-inf(inity)?$/i.test(s)) return -Infinity;
  assert.match(s, /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, `bad value in: ${line}`);
  return Number(s);
}

function parseLabels(body: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = body;
  while (rest.length > 0) {
    const m = LABEL.exec(rest);
    assert.ok(m, `bad labels in: ${line}`);
    assert.ok(!(m[1]! in out), `label ${m[1]} twice in: ${line}`);
    out[m[1]!] = m[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** Every family, checked: HELP/TYPE before samples, known types, sample names that belong to their family, no duplicate series. */
function parseExposition(text: string): Map<string, MetricFamily> {
  assert.ok(text.endsWith('\n'), 'exposition ends with a newline');
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  let current: [string, MetricFamily] | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, arg] = meta as unknown as [string, string, string, string];
      assert.match(name, NAME, `bad metric name in: ${line}`);
      let fam = families.get(name);
      if (!fam) families.set(name, (fam = { type: '', help: '', samples: [] }));
      assert.equal(fam.samples.length, 0, `${kind} after samples of ${name}`);
      if (kind === 'TYPE') {
        assert.ok(['counter', 'gauge', 'summary', 'histogram', 'untyped'].includes(arg), `bad type in: ${line}`);
        assert.equal(fam.type, '', `TYPE twice for ${name}`);
        fam.type = arg;
      } else {
        fam.help = arg;
      }
      current = [name, fam];
      continue;
    }
    assert.ok(!line.startsWith('#'), `unknown comment line: ${line}`);
    const m = SAMPLE.exec(line);
    assert.ok(m, `bad sample line: ${line}`);
    assert.ok(current, `sample before any TYPE: ${line}`);
    const [famName, fam] = current;
    const allowed = (SUFFIXES[fam.type] ?? ['']).map((s) => famName + s);
    assert.ok(allowed.includes(m[1]!), `sample ${m[1]} outside its family ${famName} (${fam.type})`);
    const labels = parseLabels(m[2] ?? '', line);
    const series = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(series), `series twice: ${line}`);
    seen.add(series);
    fam.samples.push({ name: m[1]!, labels, value: parseValue(m[3]!, line) });
  }
  for (const [name, f] of families) assert.notEqual(f.type, '', `${name} has no TYPE`);
  return families;
}

/** The one sample named `name` whose labels include `labels`. */
function value(fams: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  const all = [...fams.values()].flatMap((f) => f.samples);
  const hits = all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(hits.length, 1, `${name}${JSON.stringify(labels)}: ${hits.length} samples`);
  return hits[0]!.value;
}

/** Sum of the samples named `name` whose labels include `labels`. */
function sum(fams: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  return [...fams.values()]
    .flatMap((f) => f.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

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

/** An HTTP-FLV player: counts the bytes of its response body. */
class FlvGet {
  bytes = 0;
  ended = false;
  readonly req: http.ClientRequest;

  constructor(url: string) {
    this.req = http.get(url, { agent: false }, (res) => {
      res.on('data', (d: Buffer) => (this.bytes += d.length));
      res.on('close', () => (this.ended = true));
    });
    this.req.on('error', () => (this.ended = true));
    this.req.on('close', () => (this.ended = true));
  }
}

// ---- the cluster and its traffic -------------------------------------------------

interface ClientJson {
  id: string;
  protocol: string;
  peer: string;
  worker: number;
  role: string;
  stream: string | null;
  bytesIn: number;
  bytesOut: number;
  since: string;
}

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

/** AVC sequence header (17 00 000000, then an AVCDecoderConfigurationRecord, Baseline 3.0, one SPS, one PPS). */
const AVC_SH = Buffer.from('1700000000' + '0142c01effe1' + '00096742c01ed900a047fe' + '01000468cb83cb', 'hex');
/** AAC sequence header (af 00, AudioSpecificConfig 1210: LC, 44.1 kHz, stereo). */
const AAC_SH = Buffer.from('af001210', 'hex');

let cluster: RunningCluster;
let timer: NodeJS.Timeout | undefined;
const rtmp: RtmpClient[] = [];
const others: { close(): void }[] = [];
let pub: RtmpClient;
let playerA: RtmpClient;
let playerB: RtmpClient;
const statusesB: string[] = [];
let flv: FlvGet;
let ws: WebSocket;

async function connect(): Promise<RtmpClient> {
  const c = await RtmpClient.connect(`rtmp://127.0.0.1:${cluster.rtmpPort}/live`, { timeoutMs: 3000 });
  rtmp.push(c);
  return c;
}

/** 25 fps of small frames, a keyframe every 10, audio between them. */
function startPublishing(c: RtmpClient): void {
  c.setDataFrame({ width: 320, height: 240, framerate: 25, videocodecid: 7, audiocodecid: 10 });
  c.sendMedia(9, 0, AVC_SH);
  c.sendMedia(8, 0, AAC_SH);
  let n = 0;
  timer = setInterval(() => {
    if (c.isClosed) return clearInterval(timer);
    const frame = Buffer.alloc(400, n);
    frame.set([n % 10 === 0 ? 0x17 : 0x27, 0x01, 0, 0, 0]);
    c.sendMedia(9, n * 40, frame);
    c.sendMedia(8, n * 40 + 20, Buffer.from([0xaf, 0x01, n & 0xff, 0, 0, 0]));
    n++;
  }, 40);
}

const clientOf = (list: ClientJson[], c: RtmpClient): ClientJson | undefined => list.find((x) => x.peer === `127.0.0.1:${c.socket.localPort}`);

async function allClients(): Promise<ClientJson[]> {
  return (await getJson<{ clients: ClientJson[] }>('/api/v1/clients?limit=1000')).clients;
}

before(async () => {
  // drainDelayMs: /readyz reads 503 this long before workers stop (the last case polls it).
  const local = { host: '127.0.0.1', port: 0 };
  const cfg = { cluster: { workers: 2, drainDelayMs: 400, shutdownGraceMs: 3000, crashHook: true }, rtmp: local, http: local, admin: local, log: { level: 'silent' as const } };
  cluster = await withTimeout(startCluster(cfg), 10000, 'startCluster');
  pub = await connect();
  await pub.publish('x');
  startPublishing(pub);
  playerA = await connect();
  playerB = await connect();
  playerB.on('status', (s) => statusesB.push(s.code));
  await Promise.all([playerA.play('x'), playerB.play('x')]);
  flv = new FlvGet(`http://127.0.0.1:${cluster.httpPort}/live/x.flv`);
  others.push({ close: () => flv.req.destroy() });
  ws = new WebSocket(`ws://127.0.0.1:${cluster.httpPort}/live/x.flv`);
  ws.on('error', () => undefined);
  others.push({ close: () => ws.terminate() });
  await waitFor(() => flv.bytes > 0 && ws.readyState === WebSocket.OPEN, 5000, 'FLV players receiving');
});

after(async () => {
  clearInterval(timer);
  for (const o of others) o.close();
  for (const c of rtmp) c.destroy();
  await cluster?.close();
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
  // Histograms: three handshakes, four first frames, many egress delays.
  assert.equal(second.get('sluice_handshake_seconds')!.type, 'summary');
  assert.equal(value(second, 'sluice_handshake_seconds_count'), 3);
  assert.ok(value(second, 'sluice_handshake_seconds_sum') > 0);
  assert.ok(value(second, 'sluice_first_frame_seconds_count') >= 4);
  assert.ok(value(second, 'sluice_ingest_to_egress_seconds_count') > 0);
  const p50 = value(second, 'sluice_ingest_to_egress_seconds', { quantile: '0.5' });
  const p999 = value(second, 'sluice_ingest_to_egress_seconds', { quantile: '0.999' });
  assert.ok(p50 >= 0 && p50 <= p999 && p999 < 5, `quantiles ordered and sane: p50 ${p50}, p99.9 ${p999}`);
  assert.equal(sum(second, 'sluice_worker_ingest_to_egress_seconds_count'), value(second, 'sluice_ingest_to_egress_seconds_count'));
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
  assert.deepEqual(s.players, { rtmp: 2, 'http-flv': 1, 'ws-flv': 1, total: 4 });
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

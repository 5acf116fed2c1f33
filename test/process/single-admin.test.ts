/**
 * `--workers 0`: one thread serves the admin port as a cluster's primary
 * does (/healthz, /readyz, /metrics, /api/v1), and its log lines name
 * clients by the ids the API lists and kicks by. HTTP-FLV and WS-FLV
 * players log one "session closed" line with reason, bytes and duration,
 * however they end (kicked, or the peer leaving).
 *
 * The cases share one server and run in order (the CLI case starts its
 * own process). Every wait is bounded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from '../../src/process/single.js';
import { createLogger } from '../../src/app/log.js';
import { parseExposition, value } from '../helpers/prometheus.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { getFlv, wsFlv, type HttpFlvPlayer, type WsFlvPlayer } from '../helpers/flv-players.js';
import { closeServer } from '../helpers/servers.js';
import { freePort, waitFor, withTimeout } from '../helpers/net.js';

type Line = Record<string, unknown> & { msg: string };

const lines: Line[] = [];
const log = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
const rtmp = new RtmpClientPool();
let server: RunningServer;
let adminPort: number;
let flv: HttpFlvPlayer;
let ws: WsFlvPlayer;

interface ClientJson {
  id: string;
  protocol: string;
  peer: string;
  role: string;
}

function get(path: string, method = 'GET', port = adminPort): Promise<{ status: number; body: string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    }),
    5000,
    `${method} ${path}`,
  );
}

async function clients(): Promise<ClientJson[]> {
  const r = await get('/api/v1/clients');
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { clients: ClientJson[] }).clients;
}

const logged = (msg: string, clientId: string): Line | undefined => lines.find((l) => l.msg === msg && l.clientId === clientId);

before(async () => {
  adminPort = await freePort();
  const local = { host: '127.0.0.1', port: 0 };
  server = await withTimeout(
    startServer({ cluster: { workers: 0 }, rtmp: local, http: local, admin: { host: '127.0.0.1', port: adminPort } }, log),
    5000,
    'startServer (workers 0)',
  );
  const src = await rtmp.publisher(rtmpUrl(server.rtmpPort), 'x', { gop: 10, frameMs: 40, videoBytes: 400, audioBytes: 6 });
  src.headers();
  src.start();
  flv = getFlv(`http://127.0.0.1:${server.httpPort}/live/x.flv`);
  ws = wsFlv(`ws://127.0.0.1:${server.httpPort}/live/x.flv`);
  await waitFor(() => flv.flv.byteLength > 0 && ws.flv.byteLength > 0, 5000, 'FLV players receiving');
});

after(async () => {
  flv?.close();
  ws?.close();
  rtmp.closeAll();
  await closeServer(server);
});

test('workers 0 serves /healthz, /readyz and /metrics on the admin port', async () => {
  assert.equal(server.adminPort, adminPort);
  assert.deepEqual(await get('/healthz'), { status: 200, body: 'ok\n' });
  assert.equal((await get('/readyz')).status, 200);
  const r = await get('/metrics');
  assert.equal(r.status, 200);
  const fams = parseExposition(r.body);
  assert.equal(value(fams, 'sluice_workers'), 1);
  assert.equal(value(fams, 'sluice_publishers'), 1);
  assert.equal(value(fams, 'sluice_players', { protocol: 'ws-flv' }), 1);
  assert.equal(value(fams, 'sluice_first_frame_seconds_count'), 2, 'both players started');
  assert.equal(value(fams, 'sluice_build_info'), 1);
});

test('FLV players log with the ids the API lists', async () => {
  const list = await clients();
  for (const protocol of ['http-flv', 'ws-flv']) {
    const c = list.find((x) => x.protocol === protocol);
    assert.ok(c, `${protocol} player listed`);
    assert.match(c.id, new RegExp(`^0-${protocol}-\\d+$`));
    assert.equal(logged('playing', c.id)?.peer, c.peer, `"playing" logged as ${c.id}`);
  }
});

test('a kicked WS-FLV player logs "session closed" once, with the API id, reason, bytes and duration', async () => {
  const c = (await clients()).find((x) => x.protocol === 'ws-flv')!;
  assert.equal((await get(`/api/v1/clients/${c.id}`, 'DELETE')).status, 204);
  await waitFor(() => logged('session closed', c.id) !== undefined, 3000, 'session closed logged');
  const line = logged('session closed', c.id)!;
  assert.equal(line.reason, 'closed by admin request');
  assert.equal(line.peer, c.peer);
  assert.equal(line.streamKey, 'live/x');
  assert.ok(typeof line.bytesOut === 'number' && line.bytesOut >= ws.flv.byteLength && line.bytesOut > 0, `bytesOut ${line.bytesOut}`);
  assert.ok(typeof line.durationMs === 'number' && line.durationMs >= 0, `durationMs ${line.durationMs}`);
  assert.equal(lines.filter((l) => l.msg === 'session closed' && l.clientId === c.id).length, 1, 'logged once');
  assert.ok(logged('closing client on request', c.id), 'the kick is logged with the same id');
  // Our own close frame is not the client breaking the protocol.
  assert.deepEqual(server.ctx.counters.sessionErrors, {}, 'no session error counted');
});

test('an HTTP-FLV player whose peer leaves logs "session closed" with reason "peer closed"', async () => {
  const c = (await clients()).find((x) => x.protocol === 'http-flv')!;
  flv.close();
  await waitFor(() => logged('session closed', c.id) !== undefined, 3000, 'session closed logged');
  const line = logged('session closed', c.id)!;
  assert.equal(line.reason, 'peer closed');
  assert.ok(typeof line.bytesOut === 'number' && line.bytesOut > 0);
  assert.ok(typeof line.durationMs === 'number');
});

test('`sluice serve --workers 0` answers /healthz and /metrics on --admin-port, and exits 0 on SIGTERM', async () => {
  const [rtmpPort, httpPort, port] = [await freePort(), await freePort(), await freePort()];
  const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
  const args = ['serve', '--workers', '0', '--port', String(rtmpPort), '--admin-port', String(port), '--host', '127.0.0.1', '--log-level', 'warn'];
  const local = ['--set', 'admin.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', `http.port=${httpPort}`];
  const proc = spawn(process.execPath, [cli, ...args, ...local], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = once(proc, 'exit');
  try {
    await waitFor(() => get('/healthz', 'GET', port).then((r) => r.status === 200, () => false), 5000, 'the admin port answers');
    const r = await get('/metrics', 'GET', port);
    assert.equal(r.status, 200);
    assert.equal(value(parseExposition(r.body), 'sluice_workers'), 1);
    proc.kill('SIGTERM');
    assert.deepEqual(await withTimeout(exited, 5000, 'exit on SIGTERM'), [0, null]);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
});

test('RTMP sessions log with the ids the API lists', async () => {
  const pub = (await clients()).find((x) => x.role === 'publisher')!;
  assert.ok(logged('publishing', pub.id), `"publishing" logged as ${pub.id}`);
});

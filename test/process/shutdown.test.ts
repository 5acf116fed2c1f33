/**
 * Shutdown and health of the real CLI (`node dist/src/cli.js serve --workers 2`)
 * run as a child process, as an operator or orchestrator sees it: its JSON
 * log lines on stdout, its exit code, /healthz and /readyz, and what RTMP
 * clients on both workers receive when a signal arrives
 * (docs/operations.md: "SIGTERM or SIGINT closes the listener, ends every
 * session (players get NetStream.Play.Stop) and exits 0").
 *
 * Every wait is bounded; every child is SIGKILLed in `after`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { RtmpClient, StatusEvent } from '../../src/rtmp/client/rtmp-client.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { sleep, withTimeout } from '../helpers/net.js';
import { killAll, spawnCli, startServe, type Cli, type Exit } from '../helpers/cli-process.js';

const GRACE_MS = 3000;
/** The brief's bound: the process is gone within shutdownGraceMs + 2 s of the signal. */
const EXIT_WITHIN_MS = GRACE_MS + 2000;

const rtmp = new RtmpClientPool();

after(() => {
  rtmp.closeAll();
  killAll();
});

/** `serve --workers 2` on fresh ports. */
const startCli = (): Promise<Cli> => startServe(['--workers', '2', '--set', `cluster.shutdownGraceMs=${GRACE_MS}`], 'cluster', 8000);

// ---- probes -------------------------------------------------------------------

/** GET over a fresh connection (no keep-alive): the status, or the error code (ECONNREFUSED...). */
function httpGet(port: number, path: string, timeoutMs = 1000): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** A bare TCP connect: 'accepted' or the error code. */
function tcpProbe(port: number, timeoutMs = 500): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (r: string): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('ETIMEDOUT'), timeoutMs);
    s.once('connect', () => done('accepted'));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

interface Sample {
  /** ms since the signal was sent. */
  at: number;
  r: number | string;
}

/** Polls `probe` back to back until `stop` resolves; every result with its time. */
async function pollUntil(probe: () => Promise<number | string>, stop: Promise<unknown>, t0: number): Promise<Sample[]> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  const out: Sample[] = [];
  while (!stopped) {
    const r = await probe();
    out.push({ at: Date.now() - t0, r });
    if (r === 'ECONNREFUSED') await sleep(2);
  }
  return out;
}

// ---- clients -------------------------------------------------------------------

/** How a client's connection ended. */
interface Watched {
  c: RtmpClient;
  statuses: StatusEvent[];
  /** The server sent FIN (a graceful close, as opposed to a reset). */
  fin: boolean;
  /** Set by the client's 'close' event: undefined error = we closed it ourselves. */
  closed?: { error: Error | undefined };
  closedP: Promise<void>;
  /** Our address as the server logs it ("peer"). */
  peer: string;
  worker?: number;
}

function watch(c: RtmpClient): Watched {
  const w: Watched = { c, statuses: [], fin: false, closedP: Promise.resolve(), peer: `127.0.0.1:${c.socket.localPort}` };
  c.on('status', (s) => w.statuses.push(s));
  c.socket.once('end', () => (w.fin = true));
  w.closedP = new Promise((resolve) => {
    c.once('close', (error) => {
      w.closed = { error };
      resolve();
    });
  });
  return w;
}

/** Publisher plus players until both workers have at least one player (SO_REUSEPORT spreads by 4-tuple hash). */
async function populate(cli: Cli, name: string): Promise<{ pub: Watched; stopPub: () => void; players: Watched[] }> {
  // One video and one audio frame every 40 ms, a keyframe every 10th, until the connection ends.
  const src = await rtmp.publisher(rtmpUrl(cli.rtmpPort), name, { gop: 10, frameMs: 40, audioBytes: 6 });
  src.headers();
  src.start();
  const pub = watch(src.c);
  pub.worker = (await cli.waitLog((l) => l.msg === 'publishing' && l.peer === pub.peer, 3000, 'publishing')).worker;
  const players: Watched[] = [];
  const workers = () => new Set(players.map((p) => p.worker));
  for (let i = 0; i < 24 && workers().size < 2; i++) {
    const p = await rtmp.connect(rtmpUrl(cli.rtmpPort));
    const w = watch(p);
    const media = p.next('media', (m) => m.type === 9 && m.payload[1] === 1, 3000);
    await p.play(name);
    await media;
    w.worker = (await cli.waitLog((l) => l.msg === 'playing' && l.peer === w.peer, 3000, 'playing')).worker;
    players.push(w);
  }
  assert.deepEqual([...workers()].sort(), [1, 2], 'players on both workers');
  return { pub, stopPub: () => src.stop(), players };
}

/** What every signal must lead to: players told and closed, publisher closed, clean log, exit 0 in time. */
async function assertGracefulEnd(cli: Cli, signal: NodeJS.Signals, t0: number, pub: Watched, players: Watched[]): Promise<Exit> {
  const exit = await withTimeout(cli.exited, EXIT_WITHIN_MS + 1000, `exit after ${signal}`);
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `exit status after ${signal}; stderr: ${cli.stderr}`);
  assert.ok(exit.at - t0 <= EXIT_WITHIN_MS, `exited ${exit.at - t0} ms after ${signal}, want <= ${EXIT_WITHIN_MS}`);

  await withTimeout(Promise.all([pub.closedP, ...players.map((p) => p.closedP)]), 2000, 'every client closed');
  for (const [i, p] of players.entries()) {
    const codes = p.statuses.filter((s) => s.code !== 'NetStream.Play.Start' && s.code !== 'NetStream.Play.Reset' && s.code !== 'NetStream.Data.Start').map((s) => s.code);
    // Play.Stop, possibly after UnpublishNotify when the publisher's worker drained first.
    assert.ok(
      codes.join() === 'NetStream.Play.Stop' || codes.join() === 'NetStream.Play.UnpublishNotify,NetStream.Play.Stop',
      `player ${i} (worker ${p.worker}) statuses after start: ${codes.join() || '(none)'}`,
    );
    assert.ok(p.closed?.error, `player ${i} (worker ${p.worker}): connection closed by the server, not by us`);
    assert.ok(p.fin, `player ${i} (worker ${p.worker}): server ended the connection with FIN`);
  }
  assert.ok(pub.closed?.error, 'publisher: connection closed by the server');

  assert.deepEqual(cli.junk, [], 'stdout is JSON lines only');
  const bad = cli.lines.filter((l) => l.level === 'error' || l.level === 'fatal' || l.msg === 'session ended by error');
  assert.deepEqual(bad, [], 'no error logged');
  const down = cli.msgs('shutting down');
  assert.equal(down.length, 1);
  assert.equal(down[0]!.signal, signal);
  assert.equal(cli.msgs('cluster stopped').length, 1, 'log says "cluster stopped"');
  // Every session the workers opened was closed and logged so, on the worker it ran on.
  const sessions = new Set([pub, ...players].map((w) => `${w.worker} ${w.peer}`));
  const closedLines = new Set(cli.msgs('session closed').map((l) => `${l.worker} ${l.peer}`));
  for (const s of sessions) assert.ok(closedLines.has(s), `"session closed" logged for ${s}`);
  return exit;
}

// ---- cases ----------------------------------------------------------------------

test('/healthz and /readyz answer 200 while running; an unknown path is 404, / is the console', { timeout: 15000 }, async () => {
  const cli = await startCli();
  assert.equal(await httpGet(cli.adminPort, '/healthz'), 200);
  assert.equal(await httpGet(cli.adminPort, '/readyz'), 200);
  assert.equal(await httpGet(cli.adminPort, '/readyz?verbose=1'), 200);
  assert.equal(await httpGet(cli.adminPort, '/nope'), 404);
  assert.equal(await httpGet(cli.adminPort, '/'), 200, 'the web console (docs/console.md)');
  cli.child.kill('SIGTERM');
  const exit = await withTimeout(cli.exited, EXIT_WITHIN_MS, 'exit after SIGTERM');
  assert.equal(exit.code, 0);
});

test('SIGTERM drains: /readyz 503, listener closed, players get Play.Stop, sockets closed, exit 0', { timeout: 20000 }, async (t) => {
  const cli = await startCli();
  const { pub, stopPub, players } = await populate(cli, 'term');
  t.after(stopPub);
  assert.equal(await httpGet(cli.adminPort, '/readyz'), 200);

  const t0 = Date.now();
  cli.child.kill('SIGTERM');
  // Back to back from the signal on, each over a fresh connection, until the process is gone.
  const [ready, rtmp] = await Promise.all([
    pollUntil(() => httpGet(cli.adminPort, '/readyz', 500), cli.exited, t0),
    pollUntil(() => tcpProbe(cli.rtmpPort), cli.exited, t0),
  ]);
  const exit = await assertGracefulEnd(cli, 'SIGTERM', t0, pub, players);
  const span = (s: Sample[], r: number | string) => {
    const hits = s.filter((x) => x.r === r);
    return hits.length ? `${hits.length}x ${hits[0]!.at}..${hits.at(-1)!.at} ms` : 'never';
  };
  t.diagnostic(
    `${players.length} players on workers ${players.map((p) => p.worker).join(',')}, publisher on ${pub.worker}; ` +
      `exit after ${exit.at - t0} ms; /readyz 200: ${span(ready, 200)}, 503: ${span(ready, 503)}, reset: ${span(ready, 'ECONNRESET')}, refused: ${span(ready, 'ECONNREFUSED')}; ` +
      `rtmp accepted: ${span(rtmp, 'accepted')}, refused: ${span(rtmp, 'ECONNREFUSED')}`,
  );

  // Readiness goes 200 -> 503 -> gone, never back: a balancer polling /readyz sees "not ready" before "gone".
  // "Gone" is refused, or reset for a probe caught in flight by the admin server's close.
  const gone = (r: number | string) => r === 'ECONNREFUSED' || r === 'ECONNRESET';
  assert.ok(ready.every((s) => s.r === 200 || s.r === 503 || gone(s.r)), `only 200, 503, refused or reset: ${ready.map((s) => s.r).join(' ')}`);
  const order = ready.map((s) => (s.r === 200 ? 0 : s.r === 503 ? 1 : 2));
  assert.ok(order.every((v, i) => i === 0 || v >= order[i - 1]!), `readyz never goes back: ${ready.map((s) => s.r).join(' ')}`);
  assert.ok(ready.some((s) => s.r === 503), `/readyz answered 503 before the admin port closed: ${ready.map((s) => `${s.at}:${s.r}`).join(' ')}`);
  // The RTMP port stops accepting while the process is still alive, and stays closed.
  const firstRefused = rtmp.findIndex((s) => s.r === 'ECONNREFUSED');
  assert.ok(firstRefused >= 0, 'the RTMP port refused connections');
  assert.ok(rtmp[firstRefused]!.at < exit.at - t0, `RTMP refused (${rtmp[firstRefused]!.at} ms) before exit (${exit.at - t0} ms)`);
  assert.ok(rtmp.slice(firstRefused).every((s) => s.r === 'ECONNREFUSED'), `RTMP port stays closed: ${rtmp.map((s) => s.r).join(' ')}`);
  assert.equal(await tcpProbe(cli.rtmpPort), 'ECONNREFUSED');
  assert.equal(await httpGet(cli.adminPort, '/healthz'), 'ECONNREFUSED');
});

test('SIGINT drains the same way and exits 0', { timeout: 20000 }, async (t) => {
  const cli = await startCli();
  const { pub, stopPub, players } = await populate(cli, 'int');
  t.after(stopPub);
  const t0 = Date.now();
  cli.child.kill('SIGINT');
  await assertGracefulEnd(cli, 'SIGINT', t0, pub, players);
  assert.equal(await tcpProbe(cli.rtmpPort), 'ECONNREFUSED');
});

test('a config error exits non-zero naming the key on stderr', { timeout: 10000 }, async () => {
  const cli = spawnCli(['serve', '--workers', '2', '--port', '70000', '--host', '127.0.0.1', '--admin-port', '0']);
  const exit = await withTimeout(cli.exited, 8000, 'exit on a bad config');
  assert.notEqual(exit.code, 0);
  assert.equal(exit.signal, null);
  assert.match(cli.stderr, /rtmp\.port/);
  assert.match(cli.stderr, /65535/, 'says what the limit is');
  assert.equal(cli.msgs('cluster started').length, 0);

  const viaSet = spawnCli(['serve', '--workers', '2', '--set', 'rtmp.port=70000', '--admin-port', '0']);
  const exit2 = await withTimeout(viaSet.exited, 8000, 'exit on a bad --set');
  assert.notEqual(exit2.code, 0);
  assert.match(viaSet.stderr, /rtmp\.port/);
});

test(
  'a half-sent request on the admin port does not hold the exit past the grace period',
  {
    timeout: 15000,
    // Regression: admin.close() once waited for in-flight requests, so the CLI's fallback timer
    // ended the process instead of a clean "cluster stopped".
  },
  async (t) => {
    const cli = await startCli();
    const slow = net.connect({ host: '127.0.0.1', port: cli.adminPort });
    slow.on('error', () => undefined);
    t.after(() => slow.destroy());
    await withTimeout(new Promise((resolve) => slow.once('connect', resolve)), 2000, 'admin connect');
    slow.write('GET /readyz HTTP/1.1\r\nHost: sluice\r\n'); // the blank line that ends the headers never comes
    await sleep(100);
    const t0 = Date.now();
    cli.child.kill('SIGTERM');
    const exit = await withTimeout(cli.exited, EXIT_WITHIN_MS, `exit after SIGTERM with a slow admin client`);
    assert.equal(exit.code, 0);
    assert.ok(exit.at - t0 <= EXIT_WITHIN_MS);
    assert.equal(cli.msgs('cluster stopped').length, 1);
  },
);

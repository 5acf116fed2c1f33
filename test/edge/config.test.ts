// Edge configuration: validation of mode edge and edge.*, the environment
// form (SLUICE_MODE, comma-separated SLUICE_EDGE__ORIGINS), the defaults, and
// the real CLI started as an edge (`--mode edge --origin URL`).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { configFromEnv, resolveConfig } from '../../src/app/config.js';
import { freePort, withTimeout } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** The SluiceError message of resolveConfig(input), which must throw. */
function configError(input: unknown): string {
  try {
    resolveConfig(input);
  } catch (err) {
    assert.ok(err instanceof Error);
    assert.equal((err as { code?: string }).code, 'ERR_CONFIG', err.message);
    return err.message;
  }
  assert.fail(`resolveConfig(${JSON.stringify(input)}) did not throw`);
}

test('mode edge without origins is refused, naming edge.origins', () => {
  assert.match(configError({ mode: 'edge' }), /edge\.origins/);
  assert.match(configError({ mode: 'edge', edge: { origins: [] } }), /edge\.origins/);
  // The same list is fine in the other modes.
  assert.equal(resolveConfig({ mode: 'origin' }).mode, 'origin');
  assert.equal(resolveConfig({ mode: 'standalone' }).edge.origins.length, 0);
});

test('an origin that is not rtmp://host[:port][/app] is refused, naming edge.origins', () => {
  assert.match(configError({ mode: 'edge', edge: { origins: ['http://x'] } }), /edge\.origins/);
  assert.match(configError({ mode: 'edge', edge: { origins: ['rtmp://a:1935', 'http://x'] } }), /edge\.origins\.1/);
  assert.match(configError({ mode: 'edge', edge: { origins: ['rtmp://'] } }), /edge\.origins/);
  // The accepted forms.
  const ok = resolveConfig({ mode: 'edge', edge: { origins: ['rtmp://a', 'rtmp://b:1936', 'rtmp://c:1937/live'] } });
  assert.deepEqual(ok.edge.origins, ['rtmp://a', 'rtmp://b:1936', 'rtmp://c:1937/live']);
});

test('SLUICE_MODE and comma-separated SLUICE_EDGE__ORIGINS give mode edge and the origins in order', () => {
  const env = configFromEnv({ SLUICE_MODE: 'edge', SLUICE_EDGE__ORIGINS: 'rtmp://a:1935,rtmp://b:1936/live', PATH: '/usr/bin' });
  assert.equal(env.mode, 'edge');
  assert.deepEqual((env.edge as { origins: unknown }).origins, ['rtmp://a:1935', 'rtmp://b:1936/live']);
  const cfg = resolveConfig(env);
  assert.equal(cfg.mode, 'edge');
  assert.deepEqual(cfg.edge.origins, ['rtmp://a:1935', 'rtmp://b:1936/live']);
  // Spaces around the commas and empty items are dropped.
  const spaced = resolveConfig(configFromEnv({ SLUICE_MODE: 'edge', SLUICE_EDGE__ORIGINS: ' rtmp://a:1935 , ,rtmp://b:1936/live,' }));
  assert.deepEqual(spaced.edge.origins, ['rtmp://a:1935', 'rtmp://b:1936/live']);
  // A scalar edge key from the environment is a number.
  assert.equal(resolveConfig(configFromEnv({ SLUICE_MODE: 'edge', SLUICE_EDGE__ORIGINS: 'rtmp://a', SLUICE_EDGE__PLAYWAITMS: '750' })).edge.playWaitMs, 750);
  // An unknown mode from the environment is refused naming the key.
  assert.match(configError(configFromEnv({ SLUICE_MODE: 'relay' })), /mode/);
});

test('edge.retry with maxMs below minMs is refused, naming edge.retry.maxMs', () => {
  const msg = configError({ mode: 'edge', edge: { origins: ['rtmp://a'], retry: { minMs: 1000, maxMs: 500 } } });
  assert.match(msg, /edge\.retry\.maxMs/);
  assert.equal(resolveConfig({ mode: 'edge', edge: { origins: ['rtmp://a'], retry: { minMs: 500, maxMs: 500 } } }).edge.retry.maxMs, 500);
  // Only minMs given, above the default maxMs: still refused.
  assert.match(configError({ edge: { retry: { minMs: 6000 } } }), /edge\.retry\.maxMs/);
});

test('defaults: standalone, and the edge.* values of config.ts', () => {
  const cfg = resolveConfig({});
  assert.equal(cfg.mode, 'standalone');
  assert.deepEqual(cfg.edge, {
    origins: [],
    tlsVerify: true,
    connectTimeoutMs: 3000,
    retry: { minMs: 200, maxMs: 5000 },
    playWaitMs: 5000,
    idleStopMs: 5000,
    stallTimeoutMs: 5000,
  });
  assert.deepEqual(cfg.relay, { push: [] });
  // Setting one edge key keeps the others' defaults.
  const edge = resolveConfig({ mode: 'edge', edge: { origins: ['rtmp://a'], retry: { maxMs: 800 } } });
  assert.deepEqual(edge.edge.retry, { minMs: 200, maxMs: 800 });
  assert.equal(edge.edge.playWaitMs, 5000);
});

// ---------------------------------------------------------------------------
// The CLI as an edge
// ---------------------------------------------------------------------------

const children = new Set<ChildProcess>();
after(() => {
  for (const ch of children) if (ch.exitCode === null && ch.signalCode === null && ch.pid !== undefined) process.kill(ch.pid, 'SIGKILL');
});

test('the CLI serves as an edge (--mode edge --origin) and answers an unknown stream StreamNotFound after edge.playWaitMs', { timeout: 15000 }, async () => {
  // Nothing listens on the origin's port: every attempt is refused.
  const deadOrigin = await freePort();
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')));
  const args = ['serve', '--mode', 'edge', '--origin', `rtmp://127.0.0.1:${deadOrigin}`, '--workers', '0', '--port', '0', '--host', '127.0.0.1', '--admin-port', '0'];
  args.push('--set', 'admin.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', 'http.port=0');
  args.push('--set', 'edge.playWaitMs=300', '--set', 'edge.retry.minMs=50', '--set', 'edge.retry.maxMs=100');
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: base });
  children.add(child);
  const pool = new RtmpClientPool();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: Record<string, unknown>[] = [];
  const started = new Promise<Record<string, unknown> | undefined>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(line);
      if (line.msg === 'server started') resolve(line);
    });
    void exited.then(() => resolve(undefined));
  });
  try {
    const line = await withTimeout(started, 8000, 'server started');
    assert.ok(line, `the CLI did not start (exit ${child.exitCode}): ${stderr}`);
    const rtmpPort = line.rtmpPort as number;
    assert.ok(Number.isInteger(rtmpPort) && rtmpPort > 0, `rtmpPort in the log line: ${JSON.stringify(line)}`);

    const c = await pool.connect(rtmpUrl(rtmpPort));
    const rec = new Recorder(c);
    const t0 = Date.now();
    await c.play('nothing').catch(() => undefined);
    await rec.status('NetStream.Play.StreamNotFound', 4000);
    const ms = Date.now() - t0;
    assert.ok(ms >= 250 && ms < 2500, `StreamNotFound after ${ms} ms (edge.playWaitMs 300)`);
    // It was an edge trying its origin, not a standalone server's media.playWaitMs (5000).
    assert.ok(
      lines.some((l) => l.upstream === true && String(l.origin ?? '').includes(String(deadOrigin))),
      `an upstream attempt at the configured origin was logged: ${JSON.stringify(lines.filter((l) => l.upstream))}`,
    );

    child.kill('SIGTERM');
    assert.equal(await withTimeout(exited, 8000, 'exit after SIGTERM'), 0, stderr);
  } finally {
    pool.closeAll();
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }
});

/**
 * Issue 15: a pod of the shipped manifests crash-looped because the CLI
 * rejected the SLUICE_* service links Kubernetes injects for a Service named
 * `sluice`. The real CLI (`node dist/src/cli.js serve`) with exactly those
 * variables must start and stop cleanly. Every wait is bounded; the child is
 * SIGKILLed in `after`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, withTimeout } from '../helpers/net.js';
import { sluiceServiceLinks } from './k8s-service-links.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

const children = new Set<ChildProcess>();
after(() => {
  for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
});

interface Run {
  child: ChildProcess;
  started: Promise<boolean>;
  exited: Promise<number | null>;
  stderr: () => string;
}

/** `serve --workers 1` on ports free a moment ago, with no SLUICE_* from our own environment. */
async function serve(env: Record<string, string>): Promise<Run> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')));
  const args = ['serve', '--workers', '1', '--port', String(port), '--admin-port', String(adminPort), '--host', '127.0.0.1'];
  args.push('--set', 'admin.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', 'http.port=0');
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...base, ...env } });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = new Promise<boolean>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      if (text.includes('"cluster started"')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  return { child, started, exited, stderr: () => stderr };
}

test('the CLI starts and exits 0 with the Kubernetes service links of a Service named sluice', { timeout: 30000 }, async () => {
  let run: Run | undefined;
  // A port taken between freePort() and the bind makes the child exit early: try again with fresh ones.
  for (let attempt = 0; attempt < 3 && !run; attempt++) {
    const r = await serve(sluiceServiceLinks());
    if (await withTimeout(r.started, 10000, 'cluster started')) run = r;
    else assert.doesNotMatch(r.stderr(), /SLUICE_/, `exit ${await r.exited}: ${r.stderr()}`);
  }
  assert.ok(run, 'the server started');
  run.child.kill('SIGTERM');
  assert.equal(await withTimeout(run.exited, 10000, 'exit after SIGTERM'), 0, run.stderr());
});

test('the CLI still exits 1 naming a mistyped SLUICE_<SECTION>__<KEY>', { timeout: 15000 }, async () => {
  const r = await serve({ ...sluiceServiceLinks(), SLUICE_RTMP__NOSUCHKEY: '1' });
  assert.equal(await withTimeout(r.exited, 10000, 'exit on a bad key'), 1);
  assert.equal(await r.started, false);
  assert.match(r.stderr(), /SLUICE_RTMP__NOSUCHKEY/);
});

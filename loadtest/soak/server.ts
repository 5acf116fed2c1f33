/**
 * The server under test: `node dist/src/cli.js serve` as a child process
 * on free loopback ports (RTMP, HTTP-FLV/WS-FLV, admin), its log (stdout
 * and stderr, pino JSON lines) into a file. It is killed when the soak
 * ends, on a signal, and — as a last resort — when this process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, sleep, waitTcp } from '../server-bench/harness.js';
import { getText } from './admin-client.js';
import { within } from './deadline.js';

export interface SoakServer {
  pid: number;
  rtmpPort: number;
  httpPort: number;
  adminPort: number;
  logPath: string;
  /** The server process exited (by itself until stop() is called). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ServerOptions {
  workers: number;
  stallTimeoutMs: number;
  ringMb: number;
  logPath: string;
}

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const running = new Set<ChildProcess>();
let exitHook = false;

function killAtExit(proc: ChildProcess): void {
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const p of running) p.kill('SIGKILL');
  });
}

/** Our environment without SLUICE_* names: the run's config is the flags below and nothing else. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')));
}

async function waitReady(adminPort: number, exited: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until && !exited()) {
    try {
      if ((await getText(adminPort, '/readyz', 1000)).status === 200) return;
    } catch {
      // not up yet
    }
    await sleep(200);
  }
  throw new Error(exited() ? 'the server exited while starting' : `/readyz not ready within ${ms} ms`);
}

export async function launchServer(o: ServerOptions): Promise<SoakServer> {
  const [rtmpPort, httpPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const log = openSync(o.logPath, 'a');
  const args = [
    CLI, 'serve', '--workers', String(o.workers), '--port', String(rtmpPort), '--host', '127.0.0.1',
    '--admin-port', String(adminPort), '--log-level', 'info',
    '--set', 'admin.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', `http.port=${httpPort}`,
    '--set', `player.stallTimeoutMs=${o.stallTimeoutMs}`, '--set', `media.ringBytes=${o.ringMb * 1024 * 1024}`, '--set', 'cluster.shutdownGraceMs=5000',
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', log, log], env: cleanEnv() });
  closeSync(log);
  killAtExit(proc);
  let ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve((ended = { code, signal }))),
  );
  const server: SoakServer = {
    pid: proc.pid!,
    rtmpPort,
    httpPort,
    adminPort,
    logPath: o.logPath,
    exited,
    isRunning: () => ended === undefined,
    async stop(graceMs = 10000) {
      if (ended) return ended;
      proc.kill('SIGTERM');
      const r = await within(exited, graceMs);
      if (r) return r;
      proc.kill('SIGKILL');
      return exited;
    },
  };
  try {
    await Promise.all([waitTcp(rtmpPort, 20000), waitTcp(httpPort, 20000)]);
    await waitReady(adminPort, () => ended !== undefined, 20000);
  } catch (err) {
    await server.stop(2000);
    const tail = readFileSync(o.logPath, 'utf8').split('\n').slice(-10).join('\n');
    throw new Error(`sluice did not start: ${err instanceof Error ? err.message : String(err)}\n${tail}`);
  }
  return server;
}

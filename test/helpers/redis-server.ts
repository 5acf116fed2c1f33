/**
 * A real redis-server (Debian's, installed by .ci/run) on a free loopback
 * port, persistence off, stopped by PID. `stop()` and `start()` again on
 * the same port model an outage; `killAll()` in a test's `after`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort, sleep, withTimeout } from './net.js';

const running = new Set<ChildProcess>();

export class RedisServer {
  private child: ChildProcess | undefined;
  log = '';

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  /** A fresh server; a port taken between picking and binding gets another try. */
  static async start(): Promise<RedisServer> {
    let last: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = new RedisServer(await freePort());
      try {
        await r.start();
        return r;
      } catch (err) {
        last = err;
        await r.stop();
      }
    }
    throw last;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    running.add(child);
    child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    child.once('exit', () => running.delete(child));
    const deadline = Date.now() + 5000;
    while (!(await this.ping())) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not start: ${this.log}`);
      await sleep(50);
    }
  }

  /** PING over a raw connection: true on +PONG. */
  ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: this.port });
      const done = (ok: boolean): void => {
        s.destroy();
        resolve(ok);
      };
      s.setTimeout(500, () => done(false));
      s.once('error', () => done(false));
      s.once('connect', () => s.write('PING\r\n'));
      s.once('data', (d) => done(d.toString().startsWith('+PONG')));
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGKILL');
    await withTimeout(new Promise((r) => child.once('exit', r)), 5000, 'redis-server to exit');
  }
}

export function killAllRedis(): void {
  for (const c of running) c.kill('SIGKILL');
}

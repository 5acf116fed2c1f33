/**
 * The real CLI (`node dist/src/cli.js ...`) as a child process, as an
 * operator or orchestrator sees it: its JSON log lines on stdout, its
 * stderr and its exit. `spawnCli` remembers every child so `killAll()`
 * (in a suite's `after`) SIGKILLs whatever is still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, withTimeout } from './net.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface LogLine {
  level?: string;
  msg?: string;
  worker?: number;
  peer?: string;
  [k: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when the child exited. */
  at: number;
}

export class Cli {
  readonly lines: LogLine[] = [];
  /** stdout lines that are not JSON (there should be none). */
  readonly junk: string[] = [];
  stderr = '';
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  rtmpPort = 0;
  adminPort = 0;
  private readonly watchers = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      try {
        this.lines.push(JSON.parse(text) as LogLine);
      } catch {
        this.junk.push(text);
      }
      for (const w of [...this.watchers]) w();
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        resolve(this.exit);
        for (const w of [...this.watchers]) w();
      });
    });
  }

  /** The first log line (already seen or still to come) that `pred` accepts. */
  waitLog(pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    let check = (): void => undefined;
    const found = new Promise<LogLine>((resolve, reject) => {
      check = () => {
        const hit = this.lines.find(pred);
        if (hit) resolve(hit);
        else if (this.exit) reject(new Error(`sluice exited (${this.exit.code ?? this.exit.signal}) before log line "${what}"; stderr: ${this.stderr}`));
      };
      this.watchers.add(check);
      check();
    });
    return withTimeout(found, timeoutMs, `log line "${what}"`).finally(() => this.watchers.delete(check));
  }

  msgs(msg: string): LogLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }

  /** SIGKILL (no cleanup, as a node that dies) and wait for the exit. */
  async kill(): Promise<void> {
    if (!this.exit) this.child.kill('SIGKILL');
    await withTimeout(this.exited, 5000, 'killed child to exit');
  }
}

const children = new Set<ChildProcess>();

/** `node dist/src/cli.js ...args`, stdout and stderr piped. */
export function spawnCli(args: string[]): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  return new Cli(child);
}

/** SIGKILLs every child spawnCli started that is still running. */
export function killAll(): void {
  for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
}

/**
 * `serve` on loopback ports that were free a moment ago (`--port`,
 * `--admin-port`, HTTP on port 0), then `args`, in which `{port}` stands for
 * the RTMP port. Another process may take a port in between: the child then
 * dies before it started, and it is tried again with fresh ports (3 times).
 */
export async function startServe(args: string[], what = 'sluice', timeoutMs = 10000): Promise<Cli> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [port, adminPort] = [await freePort(), await freePort()];
    const cli = spawnCli([
      'serve', '--port', String(port), '--admin-port', String(adminPort), '--host', '127.0.0.1',
      '--set', 'admin.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', 'http.port=0',
      ...args.map((a) => a.replaceAll('{port}', String(port))),
    ]);
    try {
      const started = await cli.waitLog((l) => l.msg === 'cluster started' || l.msg === 'server started', timeoutMs, `${what} started`);
      if (started.rtmpPort !== port || started.adminPort !== adminPort) throw new Error(`${what} started on ${String(started.rtmpPort)}/${String(started.adminPort)}, asked ${port}/${adminPort}`);
      cli.rtmpPort = port;
      cli.adminPort = adminPort;
      return cli;
    } catch (err) {
      last = err;
      await cli.kill().catch(() => undefined);
    }
  }
  throw last;
}

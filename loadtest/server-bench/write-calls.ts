/**
 * Counts a server's socket write system calls (write, writev, sendto,
 * sendmsg: nginx-rtmp sends with send(2), sluice with write/writev) over a
 * run, with `perf stat` on the syscall tracepoints of every thread of the
 * process. It needs perf and the rights to trace (root, or
 * perf_event_paranoid ≤ 1); without them the count is undefined and the
 * bench prints "-".
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CALLS = ['write', 'writev', 'sendto', 'sendmsg'];

export interface WriteCounter {
  /** Ends the count: the number of calls, or undefined when perf could not count. */
  stop(): Promise<number | undefined>;
}

export function perfAvailable(): boolean {
  return !spawnSync('perf', ['--version']).error;
}

/** Counts the calls of `pids` (a server's process tree) until stop(). */
export function countWriteCalls(pids: readonly number[]): WriteCounter {
  const dir = mkdtempSync(join(tmpdir(), 'write-calls-'));
  const out = join(dir, 'stat.csv');
  const events = CALLS.map((c) => `syscalls:sys_enter_${c}`).join(',');
  const perf = spawn('perf', ['stat', '-x', ',', '-o', out, '-e', events, '-p', pids.join(',')], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => {
    perf.on('exit', (code) => resolve(code));
    perf.on('error', () => resolve(-1));
  });
  return {
    async stop() {
      perf.kill('SIGINT');
      await exited;
      try {
        // CSV rows: count,unit,event,...; "<not supported>" or "<not counted>" when perf could not.
        let n = 0;
        let rows = 0;
        for (const line of readFileSync(out, 'utf8').split('\n')) {
          const [count, , event] = line.split(',');
          if (!event?.startsWith('syscalls:')) continue;
          if (!/^\d+$/.test(count ?? '')) return undefined;
          n += Number(count);
          rows++;
        }
        return rows === CALLS.length ? n : undefined;
      } catch {
        return undefined;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

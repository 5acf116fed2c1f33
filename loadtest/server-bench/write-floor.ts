/**
 * What one socket write costs a Node.js thread with no server around it:
 * N loopback TCP sockets, each handed one tag-sized buffer per round, 25
 * rounds a second (a 2 Mbit/s stream's video frames), through the calls a
 * player transport can use (fs.writeSync and fs.writevSync on the fd, as
 * player.directWrite does, and net.Socket#write). The readers run in a
 * child process, so this process's user and kernel time (process.cpuUsage)
 * are the sending side's alone. It is the floor under sluice's user time
 * per write call, to set beside what side-by-side.js --calls reports for
 * sluice and nginx-rtmp (docs/performance.md).
 *
 *   npm run build && node dist/loadtest/server-bench/write-floor.js --sockets 300 --seconds 5
 */
import net from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { writeSync, writevSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    sockets: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '5' },
    /** Bytes per write (a 2 Mbit/s stream's video frame at 25 fps is ~10 KB). */
    bytes: { type: 'string', default: '10000' },
  },
});
const N = Number(values.sockets);
const SECONDS = Number(values.seconds);
const BYTES = Number(values.bytes);
const ROUND_MS = 40;

type Mode = 'writeSync' | 'writevSync' | 'socket.write';

async function measure(mode: Mode): Promise<{ calls: number; userUs: number; sysUs: number }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const sockets: net.Socket[] = [];
  server.on('connection', (s) => {
    s.setNoDelay(true);
    sockets.push(s);
  });
  const readers = spawn(process.execPath, ['-e', `
    const net = require('node:net');
    for (let i = 0; i < ${N}; i++) net.connect(${port}, '127.0.0.1').on('data', () => {}).on('error', () => {});
    process.stdin.on('end', () => process.exit(0)).resume();`], { stdio: ['pipe', 'ignore', 'inherit'] });
  while (sockets.length < N) await new Promise((r) => setTimeout(r, 20));
  const fds = sockets.map((s) => (s as unknown as { _handle: { fd: number } })._handle.fd);
  const body = Buffer.alloc(BYTES, 1);
  const head = body.subarray(0, 400);
  const tail = body.subarray(400);
  let calls = 0;
  const t0 = process.cpuUsage();
  const end = Date.now() + SECONDS * 1000;
  await new Promise<void>((resolve) => {
    const round = (): void => {
      for (let i = 0; i < N; i++) {
        // EAGAIN (a reader behind) throws from the fs calls: that write is skipped, as a transport would queue it.
        try {
          if (mode === 'writeSync') writeSync(fds[i]!, body);
          else if (mode === 'writevSync') writevSync(fds[i]!, [head, tail]);
          else sockets[i]!.write(body);
        } catch {
          // counted all the same: the call was made
        }
        calls++;
      }
      if (Date.now() < end) setTimeout(round, ROUND_MS);
      else resolve();
    };
    round();
  });
  const cpu = process.cpuUsage(t0);
  readers.stdin!.end();
  await once(readers, 'exit');
  for (const s of sockets) s.destroy();
  server.close();
  return { calls, userUs: cpu.user / calls, sysUs: cpu.system / calls };
}

console.log(`${N} loopback sockets, one ${BYTES}-byte write each every ${ROUND_MS} ms, ${SECONDS} s per call, node ${process.version}`);
console.log('call            calls   user µs/call  kernel µs/call');
for (const mode of ['writeSync', 'writevSync', 'socket.write'] as const) {
  const r = await measure(mode);
  console.log(`${mode.padEnd(12)}  ${String(r.calls).padStart(7)}  ${r.userUs.toFixed(2).padStart(13)}  ${r.sysUs.toFixed(2).padStart(14)}`);
}

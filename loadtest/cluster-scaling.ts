/**
 * Cluster scaling figure: the same load (one stream fanned out to many RTMP
 * players on loopback) against sluice with 1 and with 2 worker threads, in
 * one run. Reports delivered throughput and server CPU-seconds per
 * delivered Gbit (server CPU from /proc/<pid>/stat: all its threads).
 *
 *   npm run build && node dist/loadtest/cluster-scaling.js --players 200 --bitrate 8 --seconds 10
 *
 * The generator (publisher + players) runs in this process on the same
 * machine, so it competes with the server for the two cores: the report
 * shows its CPU too, to say which side limited each point.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { RtmpClient } from '../src/server/rtmp-client.js';
import { buildAvcSequenceHeader } from '../src/protocol/avc.js';

const { values } = parseArgs({
  options: {
    players: { type: 'string', default: '200' },
    bitrate: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '10' },
    workers: { type: 'string', default: '1,2' },
  },
});
const PLAYERS = Number(values.players);
const MBPS = Number(values.bitrate);
const SECONDS = Number(values.seconds);
const FPS = 25;
const TICK = process.platform === 'linux' ? 100 : 100; // USER_HZ

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** utime + stime of a process (all threads), in seconds. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitReady(adminPort: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error('server did not become ready');
}

interface Point {
  workers: number;
  players: number;
  mbitDelivered: number;
  serverCpuS: number;
  cpuPerGbit: number;
  serverCoreShare: number;
  generatorCoreShare: number;
}

async function measure(workers: number): Promise<Point> {
  const port = await freePort();
  const adminPort = await freePort();
  const server = spawn(process.execPath, ['dist/src/cli.js', 'serve', '--workers', String(workers), '--port', String(port), '--admin-port', String(adminPort), '--host', '127.0.0.1', '--log-level', 'warn', '--set', 'admin.host=127.0.0.1'], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitReady(adminPort);
    const url = `rtmp://127.0.0.1:${port}/live`;
    const pub = await RtmpClient.connect(url);
    await pub.publish('bench');
    const sps = Buffer.from('6764001facd9405005bb011000000300100000030320f1831960', 'hex');
    const pps = Buffer.from('68ebecb22c', 'hex');
    pub.sendMedia(9, 0, buildAvcSequenceHeader([sps], [pps]));
    const frameBytes = Math.round((MBPS * 1e6) / 8 / FPS);
    let n = 0;
    const start = Date.now();
    const timer = setInterval(() => {
      // Send on the wall-clock schedule so a slow server shows as lag, not as a lower rate.
      const due = Math.floor(((Date.now() - start) * FPS) / 1000);
      for (; n <= due; n++) {
        const body = Buffer.alloc(frameBytes);
        body.write(n % 50 === 0 ? '1701000000' : '2701000000', 'hex');
        pub.sendMedia(9, Math.round((n * 1000) / FPS), body);
      }
    }, 10);
    const players: RtmpClient[] = [];
    for (let i = 0; i < PLAYERS; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(20, PLAYERS - i) }, async () => {
          const c = await RtmpClient.connect(url, { timeoutMs: 15000 });
          await c.play('bench');
          return c;
        }),
      );
      players.push(...batch);
    }
    await sleep(2000);
    const bytes = () => players.reduce((s, p) => s + p.stats.bytesIn, 0);
    const cpu0 = cpuSeconds(server.pid!);
    const gen0 = process.cpuUsage();
    const b0 = bytes();
    const t0 = Date.now();
    await sleep(SECONDS * 1000);
    const secs = (Date.now() - t0) / 1000;
    const cpu = cpuSeconds(server.pid!) - cpu0;
    const gen = process.cpuUsage(gen0);
    const gbit = ((bytes() - b0) * 8) / 1e9;
    clearInterval(timer);
    for (const p of players) p.destroy();
    pub.destroy();
    return {
      workers,
      players: PLAYERS,
      mbitDelivered: (gbit * 1000) / secs,
      serverCpuS: cpu,
      cpuPerGbit: cpu / gbit,
      serverCoreShare: cpu / secs,
      generatorCoreShare: (gen.user + gen.system) / 1e6 / secs,
    };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
}

const points: Point[] = [];
for (const w of values.workers!.split(',').map(Number)) points.push(await measure(w));
console.log(`one stream at ${MBPS} Mbit/s to ${PLAYERS} RTMP players, ${SECONDS} s window, node ${process.version}`);
console.log('workers  delivered Mbit/s  server CPU-s  CPU-s/Gbit  server cores  generator cores');
for (const p of points) {
  console.log(
    `${String(p.workers).padStart(7)}  ${p.mbitDelivered.toFixed(0).padStart(16)}  ${p.serverCpuS.toFixed(2).padStart(12)}  ${p.cpuPerGbit.toFixed(3).padStart(10)}  ${p.serverCoreShare.toFixed(2).padStart(12)}  ${p.generatorCoreShare.toFixed(2).padStart(15)}`,
  );
}
if (points.length === 2) {
  const [a, b] = points as [Point, Point];
  console.log(`ratio ${b.workers}w/${a.workers}w: throughput ${(b.mbitDelivered / a.mbitDelivered).toFixed(2)}x, CPU per Gbit ${(b.cpuPerGbit / a.cpuPerGbit).toFixed(2)}x`);
}

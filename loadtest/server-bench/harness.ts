/**
 * Shared pieces of the server benchmarks: launching a server under test
 * (sluice, node-media-server, nginx-rtmp) as a child process, measuring
 * its CPU and RSS from /proc over its whole process tree, and driving one
 * stream fanned out to many RTMP players from this process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { buildHistogram, recordMs } from '../../src/core/hdr.js';
import { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import type { MediaMessage } from '../../src/rtmp/client/types.js';
import { buildAvcSequenceHeader } from '../../src/protocol/avc.js';
import { TagType } from '../../src/protocol/types.js';
import { isVideoKeyframe } from '../media-source.js';

const USER_HZ = 100;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export function treePids(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      parent.set(Number(d), Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, pp] of parent) if (pp === out[i]) out.push(pid);
  return out;
}

/** utime + stime of a process tree (all threads), seconds. */
export function cpuSeconds(root: number): number {
  const c = cpuSplit(root);
  return c.user + c.sys;
}

/** utime and stime of a process tree (all threads), seconds each: user space and the kernel. */
export function cpuSplit(root: number): { user: number; sys: number } {
  let user = 0;
  let sys = 0;
  for (const pid of treePids(root)) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      user += Number(f[11]);
      sys += Number(f[12]);
    } catch {
      // exited meanwhile
    }
  }
  return { user: user / USER_HZ, sys: sys / USER_HZ };
}

/** Resident set size of a process tree, MB. */
export function rssMb(root: number): number {
  let kb = 0;
  for (const pid of treePids(root)) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return kb / 1024;
}

export async function waitTcp(port: number, ms = 10000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listening on ${port}`);
}

export interface ServerUnderTest {
  name: string;
  proc: ChildProcess;
  rtmpUrl: string;
  /** sluice: its admin port (/metrics). */
  adminPort?: number;
  /** sluice: its HTTP-FLV / WS-FLV port. */
  httpPort?: number;
  stop(): Promise<void>;
}

function stopper(proc: ChildProcess): () => Promise<void> {
  return async () => {
    if (proc.exitCode !== null) return;
    proc.kill('SIGTERM');
    await Promise.race([new Promise((r) => proc.once('exit', r)), sleep(5000)]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
  };
}

export async function launchSluice(workers: number, extra: string[] = []): Promise<ServerUnderTest> {
  const [port, admin, http] = [await freePort(), await freePort(), await freePort()];
  const proc = spawn(
    process.execPath,
    ['dist/src/cli.js', 'serve', '--workers', String(workers), '--port', String(port), '--admin-port', String(admin), '--host', '127.0.0.1', '--log-level', 'warn', '--set', 'admin.host=127.0.0.1', '--set', `http.port=${http}`, '--set', 'http.host=127.0.0.1', ...extra],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitTcp(port);
  const label = workers === 0 ? 'sluice (1 thread)' : `sluice (${workers} worker${workers > 1 ? 's' : ''})`;
  const name = extra.length ? `${label} ${extra.filter((a) => a !== '--set').join(' ')}` : label;
  return { name, proc, rtmpUrl: `rtmp://127.0.0.1:${port}/live`, adminPort: admin, httpPort: http, stop: stopper(proc) };
}

export async function launchNodeMediaServer(): Promise<ServerUnderTest> {
  const [port, http] = [await freePort(), await freePort()];
  const data = mkdtempSync(join(tmpdir(), 'nms-'));
  const proc = spawn(process.execPath, ['node_modules/node-media-server/bin/app.js', '--rtmp-port', String(port), '--http-port', String(http), '--data-path', data], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  await waitTcp(port);
  return { name: 'node-media-server 4.4', proc, rtmpUrl: `rtmp://127.0.0.1:${port}/live`, stop: stopper(proc) };
}

/** nginx with libnginx-mod-rtmp (Debian: apt-get install nginx libnginx-mod-rtmp), if installed. */
export async function launchNginxRtmp(): Promise<ServerUnderTest | undefined> {
  const mod = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
  if (spawnSync('nginx', ['-v']).error || spawnSync('test', ['-f', mod]).status !== 0) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nginx-rtmp-'));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `load_module ${mod};
worker_processes 1;
daemon off;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
rtmp { server { listen 127.0.0.1:${port}; chunk_size 4096; application live { live on; } } }
`,
  );
  const proc = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitTcp(port);
  return { name: 'nginx-rtmp 1.2.2', proc, rtmpUrl: `rtmp://127.0.0.1:${port}/live`, stop: stopper(proc) };
}

/** Sum of a sluice counter over its labels, from /metrics (NaN for a server without it). */
export async function metricSum(server: ServerUnderTest, metric: string): Promise<number> {
  if (server.adminPort === undefined) return NaN;
  const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${metric}{`) || line.startsWith(`${metric} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** A sluice counter per value of its one label, from /metrics (empty for a server without it). */
export async function metricByLabel(server: ServerUnderTest, metric: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  if (server.adminPort === undefined) return out;
  const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
  for (const m of text.matchAll(new RegExp(`^${metric}\\{[a-z_]+="([^"]*)"\\} (\\S+)$`, 'gm'))) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  return out;
}

export interface LoadOptions {
  players: number;
  /** Video bitrate of the one published stream, Mbit/s. */
  mbps: number;
  seconds: number;
  fps?: number;
  /** Players play here (e.g. an edge pulling from `server`) instead of at `server`. */
  playAt?: ServerUnderTest;
  /** Further processes whose CPU is measured over the same window (e.g. the origin). */
  alsoMeasure?: ServerUnderTest[];
}

export interface LoadResult {
  mbitDelivered: number;
  serverCpuS: number;
  cpuPerGbit: number;
  serverCores: number;
  generatorCores: number;
  rssMb: number;
  /** Time to first frame, ms: start of the TCP connect to the first video keyframe (onFirstVideoKeyframe). */
  ttffP50: number;
  ttffP99: number;
  playersWithMedia: number;
  /** Cores used by each of `alsoMeasure` over the window. */
  alsoCores: number[];
  /** Mbit/s each of `alsoMeasure` sent to its clients over the window (sluice only). */
  alsoMbitOut: number[];
}

/**
 * A 'media' listener that calls `then` once, at the first video keyframe:
 * the first picture a player can show. Servers send |RtmpSampleAccess,
 * onMetaData and the sequence headers before it, so the first media
 * message of any kind is not the first frame.
 */
export function onFirstVideoKeyframe(then: () => void): (m: MediaMessage) => void {
  let seen = false;
  return (m) => {
    if (seen || m.type !== TagType.Video || !isVideoKeyframe(m.payload)) return;
    seen = true;
    then();
  };
}

/** A publisher of synthetic H.264-shaped frames on a wall-clock schedule (a slow server shows as lag, not as a lower rate). */
export interface BenchPublisher {
  stop(): void;
}

export async function startPublisher(rtmpUrl: string, name: string, mbps: number, fps = 25): Promise<BenchPublisher> {
  const pub = await RtmpClient.connect(rtmpUrl, { timeoutMs: 15000 });
  await pub.publish(name);
  const sps = Buffer.from('6764001facd9405005bb011000000300100000030320f1831960', 'hex');
  const pps = Buffer.from('68ebecb22c', 'hex');
  pub.sendMedia(TagType.Video, 0, buildAvcSequenceHeader([sps], [pps]));
  const frameBytes = Math.round((mbps * 1e6) / 8 / fps);
  let n = 0;
  const start = Date.now();
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - start) * fps) / 1000);
    for (; n <= due; n++) {
      const body = Buffer.alloc(frameBytes);
      body.write(n % (2 * fps) === 0 ? '1701000000' : '2701000000', 'hex');
      pub.sendMedia(TagType.Video, Math.round((n * 1000) / fps), body);
    }
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      pub.destroy();
    },
  };
}

export interface PlayerSet {
  players: RtmpClient[];
  ttff: ReturnType<typeof buildHistogram>;
}

/** `count` RTMP players of `name` at `rtmpUrl`, 25 at a time; TTFF from the TCP connect to the first video keyframe. */
export async function startPlayers(rtmpUrl: string, name: string, count: number): Promise<PlayerSet> {
  const set: PlayerSet = { players: [], ttff: buildHistogram(60_000_000) };
  for (let i = 0; i < count; i += 25) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(25, count - i) }, async () => {
        const t0 = Date.now();
        const c = await RtmpClient.connect(rtmpUrl, { timeoutMs: 15000 });
        c.on('media', onFirstVideoKeyframe(() => recordMs(set.ttff, Date.now() - t0)));
        await c.play(name);
        return c;
      }),
    );
    set.players.push(...batch);
  }
  return set;
}

/**
 * One stream to `players` RTMP players; measures a steady-state window
 * after they joined. The stream is published to `server`; the players
 * play it there, or at `o.playAt` (an edge in front of `server`), whose
 * CPU is then the one measured; `o.alsoMeasure` are measured alongside.
 */
export async function runLoad(server: ServerUnderTest, o: LoadOptions): Promise<LoadResult> {
  const pub = await startPublisher(server.rtmpUrl, 'bench', o.mbps, o.fps ?? 25);
  const measured = o.playAt ?? server;
  let set: PlayerSet | undefined;
  try {
    set = await startPlayers(measured.rtmpUrl, 'bench', o.players);
    const players = set.players;
    await sleep(2000);
    const others = o.alsoMeasure ?? [];
    const bytes = () => players.reduce((s, p) => s + p.stats.bytesIn, 0);
    const cpu0 = cpuSeconds(measured.proc.pid!);
    const others0 = others.map((x) => cpuSeconds(x.proc.pid!));
    const out0 = await Promise.all(others.map((x) => metricSum(x, 'sluice_bytes_out_total')));
    const gen0 = process.cpuUsage();
    const b0 = bytes();
    const t0 = Date.now();
    await sleep(o.seconds * 1000);
    const secs = (Date.now() - t0) / 1000;
    const cpu = cpuSeconds(measured.proc.pid!) - cpu0;
    const gen = process.cpuUsage(gen0);
    const gbit = ((bytes() - b0) * 8) / 1e9;
    const out1 = await Promise.all(others.map((x) => metricSum(x, 'sluice_bytes_out_total')));
    return {
      mbitDelivered: (gbit * 1000) / secs,
      serverCpuS: cpu,
      cpuPerGbit: cpu / gbit,
      serverCores: cpu / secs,
      generatorCores: (gen.user + gen.system) / 1e6 / secs,
      rssMb: rssMb(measured.proc.pid!),
      ttffP50: Math.round(set.ttff.getValueAtPercentile(50) / 1000),
      ttffP99: Math.round(set.ttff.getValueAtPercentile(99) / 1000),
      playersWithMedia: players.filter((p) => p.stats.mediaIn > 0).length,
      alsoCores: others.map((x, i) => (cpuSeconds(x.proc.pid!) - others0[i]!) / secs),
      alsoMbitOut: others.map((_, i) => ((out1[i]! - out0[i]!) * 8) / 1e6 / secs),
    };
  } finally {
    for (const p of set?.players ?? []) p.destroy();
    pub.stop();
  }
}

export function printTable(title: string, rows: { name: string; r: LoadResult }[]): void {
  console.log(title);
  console.log('server                      delivered Mbit/s  CPU-s/Gbit  server cores  gen cores  RSS MB  TTFF p50/p99 ms  players w/ media');
  for (const { name, r } of rows) {
    console.log(
      `${name.padEnd(26)}  ${r.mbitDelivered.toFixed(0).padStart(16)}  ${r.cpuPerGbit.toFixed(3).padStart(10)}  ${r.serverCores.toFixed(2).padStart(12)}  ${r.generatorCores.toFixed(2).padStart(9)}  ${r.rssMb.toFixed(0).padStart(6)}  ${`${r.ttffP50}/${r.ttffP99}`.padStart(15)}  ${String(r.playersWithMedia).padStart(16)}`,
    );
  }
}

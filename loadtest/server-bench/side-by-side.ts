/**
 * The same load-generator run against sluice, node-media-server and
 * nginx-rtmp (when installed), one after the other in one invocation:
 * players, delivered throughput, end-to-end latency percentiles, gaps, and
 * the server's CPU and RSS (read from /proc over its process tree).
 *
 *   npm run build && node dist/loadtest/server-bench/side-by-side.js --players 200 --bitrate 2000 --duration 20
 *
 * `--protocols http-flv,ws-flv,hls` adds sluice rows (default config)
 * whose players use those transports (hls: LL-HLS pollers, hls-player.ts);
 * the other servers' rows stay RTMP, the baseline the issue compares them
 * with. RSS per player is (peak RSS − RSS before the load) / players.
 * Under the table: each row's player errors (retried HLS requests among
 * them) and, for HLS rows, the server's HLS request and status counts.
 */
import { parseArgs } from 'node:util';
import { runLoadtest } from '../run.js';
import { buildSummary, type Summary } from '../summary.js';
import { PLAY_PROTOCOLS, type PlayProtocol } from '../options.js';
import { countWriteCalls, perfAvailable, type WriteCounter } from './write-calls.js';
import { cpuSplit, treePids, launchNginxRtmp, launchNodeMediaServer, launchSluice, metricByLabel, rssMb, type ServerUnderTest } from './harness.js';

const { values } = parseArgs({
  options: {
    players: { type: 'string', default: '200' },
    /** Streams published (players spread over them); HLS rows then show what each worker built and holds. */
    publishers: { type: 'string', default: '1' },
    bitrate: { type: 'string', default: '2000' },
    duration: { type: 'string', default: '20' },
    ramp: { type: 'string', default: '5' },
    /** Seconds the stream runs before players join (HLS rows: a first segment exists, as on a stream live for a while). */
    warmup: { type: 'string', default: '0' },
    workers: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1' },
    /** Extra sluice rows with other merged-write windows, e.g. --merge 0 (player.mergeWriteMs). */
    merge: { type: 'string', default: '' },
    /** Extra sluice rows with config keys set, one row per flag: --variant player.mergeBudgetMs=0,player.queueMaxMs=500; a PROTOCOL: prefix (--variant hls:hls.partMs=200) plays it over that transport. */
    variant: { type: 'string', multiple: true, default: [] },
    /** Leave node-media-server out (its row takes a run of its own). */
    'no-nms': { type: 'boolean', default: false },
    /** Extra sluice rows whose players use these transports: --protocols http-flv,ws-flv */
    protocols: { type: 'string', default: '' },
    /** Also count the servers' socket write calls over the steady window, for user and kernel time per call (write-calls.ts: needs perf and root). It inflates latency: see the note it prints. */
    calls: { type: 'boolean', default: false },
  },
});

interface Row {
  name: string;
  s: Summary;
  cpuS: number;
  userS: number;
  sysS: number;
  /** The same over the steady window (every player joined, teardown not begun): CPU, Gbit delivered, write calls (--calls). */
  steady?: { from: number; to: number; userS: number; sysS: number; gbit: number; calls?: number | undefined };
  rss: number;
  /** RSS before the load, MB. */
  rss0: number;
  /** HLS rows: the server's sluice_hls_requests_total by kind and sluice_hls_responses_total by status. */
  hls?: { requests: Record<string, number>; statuses: Record<string, number>; built: Record<string, number>; held: Record<string, number> };
}

async function measure(server: ServerUnderTest, protocol: PlayProtocol = 'rtmp'): Promise<Row> {
  const pid = server.proc.pid!;
  const cpu0 = cpuSplit(pid);
  const rss0 = rssMb(pid);
  // Steady window: from a second after the last player joined to a second before the run ends.
  const from = Math.ceil(Number(values.warmup) + Number(values.ramp)) + 1;
  const to = Number(values.duration) - 1;
  let atFrom: { user: number; sys: number } | undefined;
  let atTo: { user: number; sys: number } | undefined;
  let counter: WriteCounter | undefined;
  let calls: Promise<number | undefined> | undefined;
  const onProgress = ({ tick }: { tick: number }): void => {
    if (tick === from) {
      atFrom = cpuSplit(pid);
      if (values.calls && perfAvailable()) counter = countWriteCalls(treePids(pid));
    }
    if (tick === to && atFrom) {
      atTo = cpuSplit(pid);
      calls = counter?.stop();
    }
  };
  let rss = rss0;
  const sampler = setInterval(() => (rss = Math.max(rss, rssMb(server.proc.pid!))), 1000);
  try {
    const r = await runLoadtest({
      target: server.rtmpUrl,
      publishers: Number(values.publishers),
      players: Number(values.players),
      bitrateKbps: Number(values.bitrate),
      durationS: Number(values.duration),
      rampS: Number(values.ramp),
      warmupS: Number(values.warmup),
      threads: Number(values.threads),
      playProtocols: [protocol],
      ...(server.httpPort ? { playUrlTemplate: `http://127.0.0.1:${server.httpPort}/{app}/{stream}.flv` } : {}),
    }, { onProgress });
    const cpu1 = cpuSplit(pid);
    const [userS, sysS] = [cpu1.user - cpu0.user, cpu1.sys - cpu0.sys];
    const cpuS = userS + sysS;
    const mbit = r.timeline.filter((p) => p.t > from && p.t <= to).reduce((n, p) => n + p.mbpsIn, 0);
    const steady = atFrom && atTo
      ? { from, to, userS: atTo.user - atFrom.user, sysS: atTo.sys - atFrom.sys, gbit: mbit / 1000, calls: await calls }
      : undefined;
    const name = protocol === 'rtmp' ? server.name : `${server.name} ${protocol}`;
    const hls = protocol === 'hls'
      ? {
        requests: await metricByLabel(server, 'sluice_hls_requests_total'), statuses: await metricByLabel(server, 'sluice_hls_responses_total'),
        built: await metricByLabel(server, 'sluice_worker_hls_parts_built_total'), held: await metricByLabel(server, 'sluice_worker_hls_held_bytes'),
      }
      : undefined;
    return { name, s: buildSummary(r), cpuS, userS, sysS, steady, rss, rss0, hls };
  } finally {
    clearInterval(sampler);
  }
}

const rows: Row[] = [];
const merges = values.merge ? values.merge.split(',').map(Number) : [];
function checkProtocol(p: string): PlayProtocol {
  if (!(PLAY_PROTOCOLS as readonly string[]).includes(p)) throw new Error(`${p} is not one of ${PLAY_PROTOCOLS.join(', ')}`);
  return p as PlayProtocol;
}
const protocols = values.protocols ? values.protocols.split(',').map(checkProtocol) : [];
const sluice = (extra: string[] = []) => () => launchSluice(Number(values.workers), extra);
/** A server to start and the transport its players use. */
type Launch = [() => Promise<ServerUnderTest | undefined>, PlayProtocol];
const launchers: Launch[] = [
  [sluice(), 'rtmp'],
  ...protocols.map((p): Launch => [sluice(), p]),
  ...merges.map((ms): Launch => [sluice(['--set', `player.mergeWriteMs=${ms}`]), 'rtmp']),
  ...values.variant.map((v): Launch => {
    const [, p = 'rtmp', sets = v] = /^(?:([a-z-]+):)?(.*)$/.exec(v)!;
    return [sluice(sets.split(',').flatMap((kv) => ['--set', kv])), checkProtocol(p)];
  }),
  ...(values['no-nms'] ? [] : [[launchNodeMediaServer, 'rtmp'] satisfies Launch]),
  [launchNginxRtmp, 'rtmp'],
];
for (const [launch, protocol] of launchers) {
  const server = await launch();
  if (!server) continue;
  try {
    rows.push(await measure(server, protocol));
  } finally {
    await server.stop();
  }
}

console.log(`${values.publishers} stream(s) at ${values.bitrate} kbit/s video + audio, ${values.players} players (RTMP unless named), ${values.duration} s (warm-up ${values.warmup} s, ramp ${values.ramp} s), node ${process.version}`);
console.log('server                                   players  Mbit/s  lat p50/p99/p99.9 ms     gaps  TTFF p50/p99 ms  server CPU-s  CPU-s/Gbit  peak RSS MB  KB/player');
for (const { name, s, cpuS, rss, rss0 } of rows) {
  const l = s.latencyMs.latency;
  const t = s.latencyMs.ttff;
  const gbit = s.throughput.mbitIn / 1000;
  const perPlayerKb = ((rss - rss0) * 1024) / Math.max(1, s.players.target);
  console.log(
    `${name.padEnd(39)}  ${`${s.players.withFrames}/${s.players.target}`.padStart(7)}  ${s.throughput.steadyMbpsIn.toFixed(0).padStart(6)}  ${`${l.p50.toFixed(1)}/${l.p99.toFixed(1)}/${l.p999.toFixed(1)}`.padStart(20)}  ${String(s.frames.gaps).padStart(7)}  ${`${t.p50.toFixed(0)}/${t.p99.toFixed(0)}`.padStart(15)}  ${cpuS.toFixed(2).padStart(12)}  ${(cpuS / gbit).toFixed(3).padStart(10)}  ${rss.toFixed(0).padStart(11)}  ${perPlayerKb.toFixed(0).padStart(9)}`,
  );
}
/** Audio frames' end-to-end latency (the main table's is video's), whole run. */
function audioLatency(s: Summary): string {
  const a = s.latencyMs['audio-latency'];
  return a.count > 0 ? `${a.p50.toFixed(1)}/${a.p99.toFixed(1)}` : '-';
}

// The steady window alone (the table above covers the whole run: connects, handshakes and ramp included),
// its CPU split into user space and kernel, and with --calls per socket write call the server made.
// Video latency there is the loadtest's after the ramp (from a second after the last player joined to the
// end, so one second more than this CPU window): during the ramp every player's frames queue behind the
// GOP bursts of the players joining.
console.log('steady window                            seconds  CPU-s/Gbit  user CPU-s  kernel CPU-s  write calls  frames/call  user µs/call  kernel µs/call  video lat p50/p99 ms  audio lat p50/p99 ms (run)');
for (const { name, s, steady } of rows) {
  if (!steady) continue;
  const { calls } = steady;
  const perCall = (x: number) => (calls ? ((x * 1e6) / calls).toFixed(2) : '-');
  // Frames per call: over the whole run's frames, scaled to the window by delivered bits (HLS: a part carries many).
  const frames = calls ? ((s.frames.received * (steady.gbit * 1000)) / s.throughput.mbitIn / calls).toFixed(2) : '-';
  console.log(
    `${name.padEnd(39)}  ${`${steady.from}-${steady.to}`.padStart(7)}  ${((steady.userS + steady.sysS) / steady.gbit).toFixed(3).padStart(10)}  ${steady.userS.toFixed(2).padStart(10)}  ${steady.sysS.toFixed(2).padStart(12)}  ${String(calls ?? '-').padStart(11)}  ${frames.padStart(11)}  ${perCall(steady.userS).padStart(12)}  ${perCall(steady.sysS).padStart(14)}  ${`${s.steadyLatencyMs.p50.toFixed(1)}/${s.steadyLatencyMs.p99.toFixed(1)}`.padStart(20)}  ${audioLatency(s).padStart(26)}`,
  );
}
for (const { name, s, hls } of rows) {
  const errors = Object.entries(s.errors);
  if (errors.length > 0) console.log(`${name}: player errors: ${errors.map(([m, n]) => `${n}× ${m}`).join('; ')}`);
  if (hls) {
    console.log(`${name}: HLS requests ${JSON.stringify(hls.requests)}, responses ${JSON.stringify(hls.statuses)}`);
    const mb = Object.fromEntries(Object.entries(hls.held).map(([w, b]) => [w, +(b / 1048576).toFixed(1)]));
    console.log(`${name}: parts built per worker ${JSON.stringify(hls.built)}, segment memory held per worker at the end (MB) ${JSON.stringify(mb)}`);
  }
}
if (values.calls) {
  // Measured 2026-12-08 (docs/performance.md, "Counting calls distorts latency"): p99 roughly doubled for every server.
  console.log('note: --calls counts syscalls through perf tracepoints on every server thread, which slows each syscall and inflates the latency tail; judge latency on a run without --calls');
}

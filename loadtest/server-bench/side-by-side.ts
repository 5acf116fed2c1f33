/**
 * The same load-generator run against sluice, node-media-server and
 * nginx-rtmp (when installed), one after the other in one invocation:
 * players, delivered throughput, end-to-end latency percentiles, gaps, and
 * the server's CPU and RSS (read from /proc over its process tree).
 *
 *   npm run build && node dist/loadtest/server-bench/side-by-side.js --players 200 --bitrate 2000 --duration 20
 */
import { parseArgs } from 'node:util';
import { runLoadtest } from '../run.js';
import { buildSummary, type Summary } from '../summary.js';
import { cpuSeconds, launchNginxRtmp, launchNodeMediaServer, launchSluice, rssMb, type ServerUnderTest } from './harness.js';

const { values } = parseArgs({
  options: {
    players: { type: 'string', default: '200' },
    bitrate: { type: 'string', default: '2000' },
    duration: { type: 'string', default: '20' },
    ramp: { type: 'string', default: '5' },
    workers: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1' },
    /** Extra sluice rows with other merged-write windows, e.g. --merge 0 (player.mergeWriteMs). */
    merge: { type: 'string', default: '' },
    /** Extra sluice rows with config keys set, one row per flag: --variant player.mergeBudgetMs=0,player.queueMaxMs=500 */
    variant: { type: 'string', multiple: true, default: [] },
    /** Leave node-media-server out (its row takes a run of its own). */
    'no-nms': { type: 'boolean', default: false },
  },
});

interface Row {
  name: string;
  s: Summary;
  cpuS: number;
  rss: number;
}

async function measure(server: ServerUnderTest): Promise<Row> {
  const cpu0 = cpuSeconds(server.proc.pid!);
  let rss = 0;
  const sampler = setInterval(() => (rss = Math.max(rss, rssMb(server.proc.pid!))), 1000);
  try {
    const r = await runLoadtest({
      target: server.rtmpUrl,
      publishers: 1,
      players: Number(values.players),
      bitrateKbps: Number(values.bitrate),
      durationS: Number(values.duration),
      rampS: Number(values.ramp),
      threads: Number(values.threads),
    });
    return { name: server.name, s: buildSummary(r), cpuS: cpuSeconds(server.proc.pid!) - cpu0, rss };
  } finally {
    clearInterval(sampler);
  }
}

const rows: Row[] = [];
const merges = values.merge ? values.merge.split(',').map(Number) : [];
const launchers = [
  () => launchSluice(Number(values.workers)),
  ...merges.map((ms) => () => launchSluice(Number(values.workers), ['--set', `player.mergeWriteMs=${ms}`])),
  ...values.variant.map((v) => () => launchSluice(Number(values.workers), v.split(',').flatMap((kv) => ['--set', kv]))),
  ...(values['no-nms'] ? [] : [launchNodeMediaServer]),
  launchNginxRtmp,
];
for (const launch of launchers) {
  const server = await launch();
  if (!server) continue;
  try {
    rows.push(await measure(server));
  } finally {
    await server.stop();
  }
}

console.log(`1 stream at ${values.bitrate} kbit/s video + audio, ${values.players} RTMP players, ${values.duration} s (ramp ${values.ramp} s), node ${process.version}`);
console.log('server                                   players  Mbit/s  lat p50/p99/p99.9 ms     gaps  TTFF p50/p99 ms  server CPU-s  CPU-s/Gbit  peak RSS MB');
for (const { name, s, cpuS, rss } of rows) {
  const l = s.latencyMs.latency;
  const t = s.latencyMs.ttff;
  const gbit = s.throughput.mbitIn / 1000;
  console.log(
    `${name.padEnd(39)}  ${`${s.players.withFrames}/${s.players.target}`.padStart(7)}  ${s.throughput.steadyMbpsIn.toFixed(0).padStart(6)}  ${`${l.p50.toFixed(1)}/${l.p99.toFixed(1)}/${l.p999.toFixed(1)}`.padStart(20)}  ${String(s.frames.gaps).padStart(7)}  ${`${t.p50.toFixed(0)}/${t.p99.toFixed(0)}`.padStart(15)}  ${cpuS.toFixed(2).padStart(12)}  ${(cpuS / gbit).toFixed(3).padStart(10)}  ${rss.toFixed(0).padStart(11)}`,
  );
}

/**
 * Edge fan-out, in one run: an origin and an edge (sluice, one worker
 * each) on loopback; one stream published at the origin and N RTMP players
 * at the edge, for each N. Reported per N: the edge's CPU per delivered
 * Gbit next to a standalone sluice serving the same N players of a locally
 * published stream (the baseline), and the origin's cores and Mbit/s out,
 * which stay flat because the edge opens one upstream whatever N is. Then
 * pull start: first players of K streams live at the origin but not yet
 * at the edge, connect to first keyframe, next to the same first player
 * at the origin itself.
 *
 *   npm run build && node dist/loadtest/server-bench/edge-fanout.js --players 100,500 --bitrate 2 --seconds 10 --pulls 40
 */
import { parseArgs } from 'node:util';
import { buildHistogram, recordMs } from '../../src/core/hdr.js';
import { launchSluice, printTable, runLoad, sleep, startPlayers, startPublisher, type LoadResult, type ServerUnderTest } from './harness.js';

const { values } = parseArgs({
  options: {
    players: { type: 'string', default: '100,500' },
    bitrate: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
    /** Streams for the pull start latency. */
    pulls: { type: 'string', default: '40' },
  },
});
const counts = values.players!.split(',').map(Number);
const mbps = Number(values.bitrate);
const seconds = Number(values.seconds);
/** Short, so a run's pulled stream is gone before the next run publishes the name again. */
const IDLE_STOP_MS = 1000;

const origin = await launchSluice(1);
const originAt = origin.rtmpUrl.replace(/\/live$/, '');
const edge = await launchSluice(1, ['--mode', 'edge', '--origin', originAt, '--set', `edge.idleStopMs=${IDLE_STOP_MS}`]);
edge.name = 'sluice edge (1 worker)';
const local = await launchSluice(1);
local.name = 'sluice standalone (1 worker)';

const rows: { name: string; r: LoadResult }[] = [];
const pairs: { n: number; edge: LoadResult; local: LoadResult }[] = [];
try {
  for (const n of counts) {
    const e = await runLoad(origin, { players: n, mbps, seconds, playAt: edge, alsoMeasure: [origin] });
    rows.push({ name: `edge, ${n} players`, r: e });
    await sleep(IDLE_STOP_MS + 2000);
    const l = await runLoad(local, { players: n, mbps, seconds });
    rows.push({ name: `standalone, ${n} players`, r: l });
    pairs.push({ n, edge: e, local: l });
  }
  printTable(`one stream at ${mbps} Mbit/s, ${seconds} s window, node ${process.version}; edge rows: published at the origin, played at the edge`, rows);
  console.log('\nplayers  edge/standalone CPU per Gbit  origin cores  origin Mbit/s out');
  for (const p of pairs) {
    console.log(`${String(p.n).padStart(7)}  ${(p.edge.cpuPerGbit / p.local.cpuPerGbit).toFixed(2).padStart(28)}x  ${p.edge.alsoCores[0]!.toFixed(3).padStart(12)}  ${p.edge.alsoMbitOut[0]!.toFixed(2).padStart(17)}`);
  }
  await pullStart(Number(values.pulls));
} finally {
  await Promise.all([edge.stop(), local.stop(), origin.stop()]);
}

/** First player of each of `k` streams: at the edge (a pull starts) and, as the baseline, at the origin. */
async function pullStart(k: number): Promise<void> {
  const pubs = await Promise.all(Array.from({ length: k }, (_, i) => startPublisher(origin.rtmpUrl, `pull-${i}`, 0.5)));
  try {
    // Every stream has its first keyframe in the origin's GOP cache.
    await sleep(1500);
    const viaEdge = await firstFrames(edge, k);
    const direct = await firstFrames(origin, k);
    const q = (h: ReturnType<typeof buildHistogram>, p: number) => (h.getValueAtPercentile(p) / 1000).toFixed(1);
    console.log(`\nfirst player to first keyframe, ${k} streams one after another (ms):`);
    console.log(`  at the edge (starts the pull)  p50 ${q(viaEdge, 50)}  p99 ${q(viaEdge, 99)}  max ${(viaEdge.maxValue / 1000).toFixed(1)}`);
    console.log(`  at the origin (live there)     p50 ${q(direct, 50)}  p99 ${q(direct, 99)}  max ${(direct.maxValue / 1000).toFixed(1)}`);
  } finally {
    for (const p of pubs) p.stop();
  }
}

async function firstFrames(at: ServerUnderTest, k: number): Promise<ReturnType<typeof buildHistogram>> {
  const h = buildHistogram(60_000_000);
  for (let i = 0; i < k; i++) {
    const set = await startPlayers(at.rtmpUrl, `pull-${i}`, 1);
    const until = Date.now() + 10000;
    while (set.ttff.totalCount === 0 && Date.now() < until) await sleep(1);
    if (set.ttff.totalCount === 0) throw new Error(`no keyframe for pull-${i} at ${at.name} within 10 s`);
    recordMs(h, set.ttff.getValueAtPercentile(50) / 1000);
    for (const p of set.players) p.destroy();
  }
  return h;
}

/**
 * Cluster scaling: the same load (one stream to many RTMP players on
 * loopback) against sluice with 1 and with 2 worker threads, in one run.
 *
 *   npm run build && node dist/loadtest/server-bench/cluster-scaling.js --players 500 --bitrate 2 --seconds 10
 */
import { parseArgs } from 'node:util';
import { launchSluice, printTable, runLoad, type LoadResult } from './harness.js';

const { values } = parseArgs({
  options: {
    players: { type: 'string', default: '500' },
    bitrate: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
    workers: { type: 'string', default: '1,2' },
  },
});
const rows: { name: string; r: LoadResult }[] = [];
for (const w of values.workers!.split(',').map(Number)) {
  const s = await launchSluice(w);
  try {
    rows.push({ name: s.name, r: await runLoad(s, { players: Number(values.players), mbps: Number(values.bitrate), seconds: Number(values.seconds) }) });
  } finally {
    await s.stop();
  }
}
printTable(`one stream at ${values.bitrate} Mbit/s to ${values.players} RTMP players, ${values.seconds} s window, node ${process.version}`, rows);
if (rows.length === 2) {
  const [a, b] = [rows[0]!, rows[1]!];
  console.log(`ratio 2nd/1st: throughput ${(b.r.mbitDelivered / a.r.mbitDelivered).toFixed(2)}x, CPU per Gbit ${(b.r.cpuPerGbit / a.r.cpuPerGbit).toFixed(2)}x`);
}

/**
 * sluice against node-media-server and nginx-rtmp (when installed) under
 * the same load, in one run: CPU-seconds per delivered Gbit, RSS, time to
 * first frame. The brief's reference load is one 2 Mbit/s stream to 500
 * RTMP players (1 Gbit/s).
 *
 *   apt-get install -y nginx libnginx-mod-rtmp   # optional baseline
 *   npm run build && node dist/loadtest/server-bench/compare.js --players 500 --bitrate 2 --seconds 10
 */
import { parseArgs } from 'node:util';
import { launchNginxRtmp, launchNodeMediaServer, launchSluice, printTable, runLoad, type LoadResult, type ServerUnderTest } from './harness.js';

const { values } = parseArgs({
  options: {
    players: { type: 'string', default: '500' },
    bitrate: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
    workers: { type: 'string', default: '1' },
    /** Extra sluice rows with merged writes, e.g. --merge 100,200 (player.mergeWriteMs). */
    merge: { type: 'string', default: '' },
  },
});
const load = { players: Number(values.players), mbps: Number(values.bitrate), seconds: Number(values.seconds) };
const merges = values.merge ? values.merge.split(',').map(Number) : [];
const launchers: (() => Promise<ServerUnderTest | undefined>)[] = [
  () => launchSluice(Number(values.workers)),
  ...merges.map((ms) => () => launchSluice(Number(values.workers), ['--set', `player.mergeWriteMs=${ms}`])),
  launchNginxRtmp,
  launchNodeMediaServer,
];
const rows: { name: string; r: LoadResult }[] = [];
for (const launch of launchers) {
  const s = await launch();
  if (!s) continue;
  try {
    rows.push({ name: s.name, r: await runLoad(s, load) });
  } finally {
    await s.stop();
  }
}
printTable(`one stream at ${values.bitrate} Mbit/s to ${values.players} RTMP players, ${values.seconds} s window, node ${process.version}`, rows);
const base = rows[0]!;
for (const row of rows.slice(1)) {
  console.log(`${base.name} vs ${row.name}: CPU per Gbit ${(base.r.cpuPerGbit / row.r.cpuPerGbit).toFixed(2)}x, RSS ${(base.r.rssMb / row.r.rssMb).toFixed(2)}x`);
}

/**
 * A piscina task running a group of players for the whole run: each
 * connects at its place in the ramp, plays its stream over its protocol,
 * and tallies every frame (frame-tally.ts) until the run stops.
 */
import type { PlayerAssignment, PlayerTaskInput } from './messages.js';
import { FrameTally } from './frame-tally.js';
import { openPlayer, type PlayConnection } from './play-transports.js';
import { wallNowMs } from './schedule.js';
import { TaskReporter } from './task-reporter.js';

export async function runPlayerTask(input: PlayerTaskInput): Promise<Uint8Array> {
  const o = input.options;
  let playing = 0;
  const rep = new TaskReporter(input, () => ({ playing, live: 0 }));
  const conns = new Set<PlayConnection>();
  const starts = new Set<NodeJS.Timeout>();
  const attempts = new Set<Promise<void>>();
  let stopping = false;

  const start = async (a: PlayerAssignment): Promise<void> => {
    const counters = [rep.totals, rep.protocolTotals(a.protocol)];
    const t0 = wallNowMs();
    // HLS has no onMetaData: its init segment stands for the sequence headers alone.
    const expect = a.protocol === 'hls' ? { ...input.expectHeaders, metadata: false } : input.expectHeaders;
    const tally = new FrameTally(
      a.stream,
      expect,
      {
        counters,
        videoLatency: (ms) => rep.recordVideoLatency(ms, a.protocol),
        audioLatency: (ms) => rep.recordPlayer('audio-latency', a.protocol, ms),
        firstVideoFrame: (at) => rep.recordPlayer('ttff', a.protocol, at - t0),
      },
      t0,
    );
    let live = false;
    try {
      const conn = await openPlayer(a, o.timeoutMs, {
        onPlayRequested: () => (tally.playRequestedMs = wallNowMs()),
        onConnected: () => rep.recordPlayer('connect', a.protocol, wallNowMs() - t0),
        onTag: (type, payload, at) => tally.onTag(type, payload, at),
        onBytes: (n) => {
          for (const c of counters) c.bytesIn += n;
        },
        onError: (err) => rep.error(err),
        onClose: (err) => {
          if (live) playing--;
          live = false;
          if (!stopping && wallNowMs() < input.endMs) {
            for (const c of counters) c.playersDropped++;
            rep.error(err ?? new Error('closed'));
          }
        },
      }, o.insecure);
      if (stopping) return void (await conn.close());
      conns.add(conn);
      for (const c of counters) c.playersConnected++;
      live = true;
      playing++;
    } catch (err) {
      for (const c of counters) c.playersFailed++;
      rep.error(err);
    }
  };

  for (const a of input.players) {
    const at = input.rampStartMs + (input.rampMs * a.index) / Math.max(1, input.totalPlayers);
    const t = setTimeout(() => {
      starts.delete(t);
      const p = start(a).finally(() => attempts.delete(p));
      attempts.add(p);
    }, Math.max(0, at - wallNowMs()));
    starts.add(t);
  }

  await rep.waitUntil(input.stopMs);
  stopping = true;
  for (const t of starts) clearTimeout(t);
  await Promise.all(attempts);
  await Promise.all([...conns].map((c) => c.close()));
  return rep.finish();
}

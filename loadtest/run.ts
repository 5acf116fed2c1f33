/**
 * One load test run, programmatically: `runLoadtest(options)`.
 *
 *   1. check the targets (loopback unless allowed) and the options
 *   2. start the publisher tasks; wait until every publish attempt settled
 *   3. start the player tasks, which connect over the ramp (after the warm-up)
 *   4. at `durationS` publishers stop; a moment later every client closes
 *   5. merge the tasks' envelopes: totals, histograms, errors
 *
 * Each task is a piscina task on its own thread for the whole run (a pool
 * of exactly as many threads as tasks); tasks report each second over a
 * MessagePort, which the Timeline adds up.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { SluiceError } from '../src/core/errors.js';
import { FileSource } from './file-source.js';
import { HISTOGRAMS, PLAYER_HISTOGRAMS, mergeHistograms, type Histogram, type HistogramName, type PlayerHistogramName } from './histograms.js';
import {
  addTotals,
  unpackMessage,
  zeroTotals,
  type ExpectedHeaders,
  type PlayerAssignment,
  type ReadyMessage,
  type TaskEnvelope,
  type TaskInput,
  type TaskMessage,
  type Totals,
} from './messages.js';
import { resolveOptions, streamName, type LoadtestInput, type LoadtestOptions, type PlayProtocol } from './options.js';
import { wallNowMs } from './schedule.js';
import { checkTargets, playUrl } from './targets.js';
import { Timeline, type ProgressSnapshot, type TimelinePoint } from './timeline.js';
import { steadySeconds } from './summary.js';

/** Players stay this long after publishers stop, so frames in flight arrive. */
const LINGER_MS = 500;
/** The live line for second k is shown this long after it ends, once the tasks' ticks are in. */
const TICK_SETTLE_MS = 250;

export interface RunHooks {
  /** After each second of the run. */
  onProgress?(p: ProgressSnapshot): void;
  /** Aborting ends the run early (the results so far are returned). */
  signal?: AbortSignal;
}

export interface LoadtestResult {
  options: LoadtestOptions;
  /** Wall-clock ms: start, ramp start and end, publishers' end (earlier if stopped), when all was closed. */
  t0Ms: number;
  rampStartMs: number;
  rampEndMs: number;
  endMs: number;
  finishedMs: number;
  publishersTarget: number;
  playersTarget: number;
  totals: Totals;
  byProtocol: Partial<Record<PlayProtocol, Totals>>;
  histograms: Record<HistogramName, Histogram>;
  protocolHistograms: Partial<Record<PlayProtocol, Record<PlayerHistogramName, Histogram>>>;
  timeline: TimelinePoint[];
  /** Video latency of the frames received in the steady seconds (summary.ts steadySeconds); the whole run's if there are none. */
  steadyLatency: Histogram;
  errors: Record<string, number>;
}

function expectedHeaders(o: LoadtestOptions): ExpectedHeaders {
  if (!o.file) return { metadata: true, audio: o.audio };
  const types = new FileSource(o.file, 0).headers.map((h) => h.type);
  return { metadata: types.includes(18), audio: types.includes(8) };
}

/** Player g plays stream g % publishers; the j-th player of a stream uses protocols[j % n]. */
export function planPlayers(o: LoadtestOptions): PlayerAssignment[] {
  const total = o.publishers * o.players;
  return Array.from({ length: total }, (_, index) => {
    const stream = index % o.publishers;
    const protocol = o.playProtocols[Math.floor(index / o.publishers) % o.playProtocols.length]!;
    const name = streamName(o, stream);
    return { index, stream, name, protocol, url: playUrl(o, protocol, name) };
  });
}

/** Deals `items` round-robin into `n` groups. */
function deal<T>(items: T[], n: number): T[][] {
  const groups: T[][] = Array.from({ length: n }, () => []);
  items.forEach((item, i) => groups[i % n]!.push(item));
  return groups.filter((g) => g.length > 0);
}

export async function runLoadtest(input: LoadtestInput, hooks: RunHooks = {}): Promise<LoadtestResult> {
  const o = resolveOptions(input);
  await checkTargets(o);
  const expectHeaders = expectedHeaders(o);
  const players = planPlayers(o);
  const publisherGroups = deal(Array.from({ length: o.publishers }, (_, i) => i), Math.max(1, Math.ceil(o.threads / 4)));
  const playerGroups = deal(players, o.threads);

  const t0Ms = wallNowMs();
  const endMs = t0Ms + o.durationS * 1000;
  const stopMs = endMs + LINGER_MS;
  const timeline = new Timeline();
  const ports: MessagePort[] = [];
  const threads = publisherGroups.length + playerGroups.length;
  const pool = new Piscina({
    filename: fileURLToPath(new URL('./tasks.js', import.meta.url)),
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: 1,
    idleTimeout: 60_000,
  });
  let stoppedAtMs = Infinity;
  const stopAll = (): void => {
    stoppedAtMs = Math.min(stoppedAtMs, wallNowMs());
    for (const p of ports) p.postMessage({ type: 'stop' });
  };
  hooks.signal?.addEventListener('abort', stopAll, { once: true });
  if (hooks.signal?.aborted) stopAll();

  let nextTask = 0;
  const startTask = (make: (task: number, port: MessagePort) => TaskInput, onMessage: (m: TaskMessage) => void): Promise<TaskEnvelope> => {
    const { port1, port2 } = new MessageChannel();
    ports.push(port1);
    port1.on('message', (bytes: Uint8Array) => {
      const m = unpackMessage<TaskMessage>(bytes);
      if (m.type === 'tick') timeline.add(m);
      onMessage(m);
    });
    const input = make(nextTask++, port2);
    return pool.run(input, { transferList: [port2] }).then((bytes: Uint8Array) => unpackMessage<TaskEnvelope>(bytes));
  };

  // Live progress: second k is reported a moment after it ends.
  let tick = 0;
  let progressTimer: NodeJS.Timeout | undefined;
  const armProgress = (): void => {
    tick++;
    progressTimer = setTimeout(() => {
      hooks.onProgress?.(timeline.snapshot(tick, o.durationS, players.length));
      if (t0Ms + tick * 1000 < stopMs) armProgress();
    }, Math.max(0, t0Ms + tick * 1000 + TICK_SETTLE_MS - wallNowMs()));
  };
  if (hooks.onProgress) armProgress();

  const envelopes: Promise<TaskEnvelope>[] = [];
  let rampStartMs = t0Ms;
  try {
    const ready: ReadyMessage[] = [];
    let allReady: () => void = () => undefined;
    const readyP = new Promise<void>((resolve) => (allReady = resolve));
    const base = { options: o, t0Ms, endMs, stopMs };
    for (const group of publisherGroups) {
      envelopes.push(
        startTask(
          (task, port) => ({ ...base, task, port, kind: 'publish', publishers: group }),
          (m) => {
            if (m.type !== 'ready') return;
            ready.push(m);
            if (ready.length === publisherGroups.length) allReady();
          },
        ),
      );
    }
    // A task that fails before 'ready' must not leave us waiting.
    await Promise.race([readyP, Promise.all(envelopes)]);
    if (ready.reduce((n, r) => n + r.live, 0) === 0) {
      const why = ready.find((r) => r.error)?.error ?? 'no publisher task reported';
      throw new SluiceError('ERR_STREAM', `no publisher is live: ${why}`);
    }
    rampStartMs = wallNowMs() + o.warmupS * 1000;
    for (const group of playerGroups) {
      envelopes.push(
        startTask(
          (task, port) => ({
            ...base,
            task,
            port,
            kind: 'play',
            players: group,
            totalPlayers: players.length,
            rampStartMs,
            rampMs: o.rampS * 1000,
            expectHeaders,
          }),
          () => undefined,
        ),
      );
    }
    const done = await Promise.all(envelopes);
    return merge(o, done, timeline, { t0Ms, rampStartMs, endMs: Math.min(endMs, stoppedAtMs), playersTarget: players.length });
  } catch (err) {
    stopAll();
    await Promise.allSettled(envelopes);
    throw err;
  } finally {
    clearTimeout(progressTimer);
    hooks.signal?.removeEventListener('abort', stopAll);
    for (const p of ports) p.close();
    await pool.destroy();
  }
}

/** The steady seconds' video latency; every second's when none is wholly after the ramp (as steadyThroughput falls back). */
function steadyLatency(timeline: Timeline, steady: { from: number; to: number }): Histogram {
  const h = timeline.latencyOver(steady.from, steady.to);
  return h.totalCount > 0 ? h : timeline.latencyOver(1, Infinity);
}

function merge(
  o: LoadtestOptions,
  envelopes: TaskEnvelope[],
  timeline: Timeline,
  at: { t0Ms: number; rampStartMs: number; endMs: number; playersTarget: number },
): LoadtestResult {
  const totals = zeroTotals();
  const byProtocol: Partial<Record<PlayProtocol, Totals>> = {};
  const errors: Record<string, number> = {};
  for (const e of envelopes) {
    addTotals(totals, e.totals);
    for (const [p, t] of Object.entries(e.byProtocol) as [PlayProtocol, Totals][]) addTotals((byProtocol[p] ??= zeroTotals()), t);
    for (const [msg, n] of Object.entries(e.errors)) errors[msg] = (errors[msg] ?? 0) + n;
  }
  const histograms = {} as Record<HistogramName, Histogram>;
  for (const name of Object.keys(HISTOGRAMS) as HistogramName[]) {
    histograms[name] = mergeHistograms(envelopes.flatMap((e) => e.histograms[name] ?? []));
  }
  const protocolHistograms: LoadtestResult['protocolHistograms'] = {};
  for (const p of new Set(envelopes.flatMap((e) => Object.keys(e.protocolHistograms ?? {}) as PlayProtocol[]))) {
    const byName = {} as Record<PlayerHistogramName, Histogram>;
    for (const name of PLAYER_HISTOGRAMS) byName[name] = mergeHistograms(envelopes.flatMap((e) => e.protocolHistograms?.[p]?.[name] ?? []));
    protocolHistograms[p] = byName;
  }
  const rampEndMs = at.rampStartMs + o.rampS * 1000;
  const steady = steadySeconds({ t0Ms: at.t0Ms, rampEndMs, endMs: at.endMs });
  return {
    options: o,
    t0Ms: at.t0Ms,
    rampStartMs: at.rampStartMs,
    rampEndMs,
    endMs: at.endMs,
    finishedMs: wallNowMs(),
    publishersTarget: o.publishers,
    playersTarget: at.playersTarget,
    totals,
    byProtocol,
    histograms,
    protocolHistograms,
    timeline: timeline.points(),
    steadyLatency: steadyLatency(timeline, steady),
    errors,
  };
}

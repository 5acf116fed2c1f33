/**
 * runSoak(): start sluice, sample it at rest (baseline), churn for the
 * run's length minus the quiet period while sampling, close every client,
 * sample the quiet period, stop the server and judge the samples
 * (verdict.ts). The server is stopped whatever happens; an abort (Ctrl-C)
 * ends the churn at once and still reports what was sampled.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../server-bench/harness.js';
import { AbuseChurn } from './abuse.js';
import { ClientSet } from './client-set.js';
import { sleepUntil } from './deadline.js';
import { PlayerChurn } from './players.js';
import { PublisherChurn } from './publishers.js';
import type { SoakReport } from './report.js';
import { Rng } from './rng.js';
import { takeSample } from './sampler.js';
import { launchServer } from './server.js';
import { summarizeLog } from './server-log.js';
import { StallChurn } from './stalls.js';
import type { Phase, Sample, SoakOptions, Tallies } from './types.js';
import { judge } from './verdict.js';

const BASELINE_SAMPLES = 3;

export interface RunHooks {
  signal?: AbortSignal;
  onSample?: (s: Sample) => void;
  onPhase?: (phase: Phase, untilS: number) => void;
}

/** Quiet period: 15 % of the run, from 12 s (republish grace and play wait, 5 s each, must run out) to 30 s. */
export function defaultQuietSeconds(minutes: number): number {
  return Math.min(30, Math.max(12, 0.15 * minutes * 60));
}

export async function runSoak(o: SoakOptions, hooks: RunHooks = {}): Promise<SoakReport> {
  const stop = new AbortController();
  const external = hooks.signal;
  const onAbort = (): void => stop.abort();
  external?.addEventListener('abort', onAbort, { once: true });
  mkdirSync(o.out, { recursive: true });
  const server = await launchServer({ workers: o.workers, stallTimeoutMs: o.stallTimeoutMs, ringMb: o.ringMb, logPath: join(o.out, 'server.log') });
  let serverDied = false;
  let stopping = false;
  void server.exited.then(() => {
    if (!stopping) serverDied = true;
    stop.abort();
  });
  const t0 = Date.now();
  const samples: Sample[] = [];
  const sample = async (phase: Phase): Promise<void> => {
    if (!server.isRunning()) return;
    const s = await takeSample(server.pid, server.adminPort, (Date.now() - t0) / 1000, phase);
    samples.push(s);
    hooks.onSample?.(s);
  };
  /** Samples every sampleSeconds until `untilMs`, and once more at the end. */
  const samplePhase = async (phase: Phase, untilMs: number): Promise<void> => {
    hooks.onPhase?.(phase, (untilMs - t0) / 1000);
    for (let next = Date.now() + o.sampleSeconds * 1000; next < untilMs - 500 && !stop.signal.aborted; next += o.sampleSeconds * 1000) {
      await sleepUntil(next, stop.signal);
      if (!stop.signal.aborted) await sample(phase);
    }
    await sleepUntil(untilMs, stop.signal);
    await sample(phase);
  };

  const rng = new Rng(o.seed);
  const set = new ClientSet();
  const totalMs = o.minutes * 60_000;
  const churnMs = totalMs - o.quietSeconds * 1000;
  let churnStartS = 0;
  let churnEndS = 0;
  let quietEndS = 0;
  const target = {
    rtmpUrl: `rtmp://127.0.0.1:${server.rtmpPort}/live`,
    urlTemplate: `http://{host}:${server.httpPort}/{app}/{stream}.flv`,
    rtmpPort: server.rtmpPort,
    httpPort: server.httpPort,
  };
  const prefix = `soak-${o.seed.toString(36)}`;
  let players: PlayerChurn | undefined;
  let stalls: StallChurn | undefined;
  let publishers: PublisherChurn | undefined;
  let abuse: AbuseChurn | undefined;
  let exit: { code: number | null; signal: string | null } | undefined;
  try {
    await sleep(1000);
    for (let i = 0; i < BASELINE_SAMPLES && !stop.signal.aborted; i++) {
      if (i > 0) await sleep(1000);
      await sample('baseline');
    }

    churnStartS = (Date.now() - t0) / 1000;
    const churnEnd = Date.now() + churnMs;
    const room = (): boolean => (players?.active ?? 0) + (stalls?.active ?? 0) < o.maxPlayers;
    publishers = new PublisherChurn(target.rtmpUrl, prefix, o.streams, o.bitrateKbps, churnEnd, rng, set);
    const liveNames = () => publishers!.liveNames();
    players = new PlayerChurn(target, prefix, liveNames, room, rng, set);
    stalls = new StallChurn(target, o.stallTimeoutMs, Math.max(2, Math.round(o.maxPlayers / 10)), liveNames, room, rng, set);
    abuse = new AbuseChurn({ rtmp: server.rtmpPort, http: server.httpPort }, rng, set);
    if (!stop.signal.aborted) {
      publishers.start();
      players.start();
      stalls.start();
      abuse.start();
      await samplePhase('churn', churnEnd);
    }
    await set.closeAll();
    churnEndS = (Date.now() - t0) / 1000;
    if (!stop.signal.aborted) await samplePhase('quiet', Date.now() + o.quietSeconds * 1000);
    quietEndS = (Date.now() - t0) / 1000;
  } finally {
    await set.closeAll(2000);
    stopping = true;
    exit = await server.stop();
    external?.removeEventListener('abort', onAbort);
  }

  const tallies: Tallies = {
    publishers: publishers?.counts ?? {},
    players: players?.counts ?? {},
    stalls: stalls?.counts ?? {},
    stallClosedAfterMs: stalls?.closedAfterMs ?? [],
    stallEvents: stalls?.events ?? [],
    abuse: abuse?.counts ?? {},
  };
  const verdict = judge(samples, { churnStartS, churnEndS });
  const interrupted = external?.aborted === true;
  if (serverDied) verdict.failures.unshift(`the server exited during the run (code ${exit?.code}, signal ${exit?.signal})`);
  const restarts = Math.max(0, ...samples.map((s) => s.info.workerRestarts ?? 0));
  if (restarts > 0) verdict.failures.push(`${restarts} worker thread(s) were replaced (sluice_worker_restarts_total)`);
  const failedScrapes = samples.filter((s) => s.info.errors).length;
  if (failedScrapes > samples.length / 4) verdict.failures.push(`${failedScrapes} of ${samples.length} samples had failed scrapes`);
  verdict.ok = verdict.failures.length === 0;
  return {
    options: o,
    server: { pid: server.pid, ports: { rtmp: server.rtmpPort, http: server.httpPort, admin: server.adminPort }, exit, log: summarizeLog(server.logPath) },
    window: { churnStartS, churnEndS, quietEndS },
    interrupted,
    tallies,
    verdict,
    samples,
  };
}

/**
 * What a run comes to: the summary (summary.json), the terminal table and
 * the pass/fail limits.
 */
import { HISTOGRAMS, PLAYER_HISTOGRAMS, summarize, type HistogramName, type LatencySummary, type PlayerHistogramName } from './histograms.js';
import type { Totals } from './messages.js';
import type { LoadtestOptions, PlayProtocol } from './options.js';
import type { LoadtestResult } from './run.js';
import type { TimelinePoint } from './timeline.js';

export interface Threshold {
  name: 'max-p99' | 'max-gap-rate' | 'min-throughput';
  limit: number;
  value: number;
  ok: boolean;
  message: string;
}

export interface Summary {
  tool: 'sluice-loadtest';
  startedAt: string;
  options: LoadtestOptions;
  /** Seconds from start to the publishers' end, and until everything closed. */
  durationS: number;
  wallS: number;
  publishers: { target: number; live: number; failed: number; dropped: number; framesSent: number };
  players: { target: number; connected: number; failed: number; dropped: number; withFrames: number; withHeaders: number };
  byProtocol: Partial<Record<PlayProtocol, { connected: number; failed: number; dropped: number; withFrames: number; mbitIn: number; gaps: number }>>;
  throughput: {
    /** Mbit/s delivered to players over the seconds after the ramp (the whole play time if none). */
    steadyMbpsIn: number;
    peakMbpsIn: number;
    mbitIn: number;
    mbitOut: number;
  };
  frames: { received: number; cached: number; gaps: number; reorders: number; foreign: number; gapRate: number };
  latencyMs: Record<HistogramName, LatencySummary>;
  /**
   * Video latency of the frames received in the steady seconds (those of
   * throughput.steadyMbpsIn): players joining during the ramp get the GOP
   * cache in a burst, which every player's frames queue behind; this is the
   * latency once they all play.
   */
  steadyLatencyMs: LatencySummary;
  /** The player histograms per play protocol (RTMP, HTTP-FLV, WS-FLV apart). */
  latencyByProtocol: Partial<Record<PlayProtocol, Record<PlayerHistogramName, LatencySummary>>>;
  timeline: TimelinePoint[];
  errors: Record<string, number>;
  thresholds: Threshold[];
}

const r2 = (v: number): number => Math.round(v * 100) / 100;
const mbit = (bytes: number): number => r2((bytes * 8) / 1e6);

/** Gaps over the frames there should have been (received + missing). */
export function gapRate(t: Pick<Totals, 'gaps' | 'framesIn'>): number {
  const expected = t.framesIn + t.gaps;
  return expected === 0 ? 0 : t.gaps / expected;
}

/** The steady seconds of a run: wholly after the ramp, and before the end (timeline seconds, both included). */
export function steadySeconds(r: Pick<LoadtestResult, 't0Ms' | 'rampEndMs' | 'endMs'>): { from: number; to: number } {
  return { from: (r.rampEndMs - r.t0Ms) / 1000 + 1, to: (r.endMs - r.t0Ms) / 1000 };
}

/** Average Mbit/s of the steady seconds; else of every second players played. */
export function steadyThroughput(r: Pick<LoadtestResult, 't0Ms' | 'rampEndMs' | 'endMs' | 'timeline'>): number {
  const { from, to } = steadySeconds(r);
  let pts = r.timeline.filter((p) => p.t >= from && p.t <= to);
  if (pts.length === 0) pts = r.timeline.filter((p) => p.playing > 0);
  return pts.length === 0 ? 0 : r2(pts.reduce((s, p) => s + p.mbpsIn, 0) / pts.length);
}

export function checkThresholds(o: LoadtestOptions, s: Pick<Summary, 'latencyMs' | 'frames' | 'throughput'>): Threshold[] {
  const out: Threshold[] = [];
  if (o.maxP99Ms !== undefined) {
    const v = s.latencyMs.latency.p99;
    const ok = s.latencyMs.latency.count > 0 && v <= o.maxP99Ms;
    out.push({ name: 'max-p99', limit: o.maxP99Ms, value: v, ok, message: `video latency p99 ${v} ms ${ok ? '<=' : s.latencyMs.latency.count === 0 ? '(no frames) vs' : '>'} limit ${o.maxP99Ms} ms` });
  }
  if (o.maxGapRate !== undefined) {
    const v = s.frames.gapRate;
    const ok = v <= o.maxGapRate;
    out.push({ name: 'max-gap-rate', limit: o.maxGapRate, value: v, ok, message: `gap rate ${v} ${ok ? '<=' : '>'} limit ${o.maxGapRate}` });
  }
  if (o.minThroughputMbps !== undefined) {
    const v = s.throughput.steadyMbpsIn;
    const ok = v >= o.minThroughputMbps;
    out.push({ name: 'min-throughput', limit: o.minThroughputMbps, value: v, ok, message: `throughput ${v} Mbit/s ${ok ? '>=' : '<'} limit ${o.minThroughputMbps} Mbit/s` });
  }
  return out;
}

export function buildSummary(r: LoadtestResult): Summary {
  const t = r.totals;
  const latencyMs = {} as Record<HistogramName, LatencySummary>;
  for (const name of Object.keys(HISTOGRAMS) as HistogramName[]) latencyMs[name] = summarize(r.histograms[name]);
  const latencyByProtocol: Summary['latencyByProtocol'] = {};
  for (const [p, byName] of Object.entries(r.protocolHistograms ?? {}) as [PlayProtocol, Record<PlayerHistogramName, LoadtestResult['histograms'][HistogramName]>][]) {
    const out = {} as Record<PlayerHistogramName, LatencySummary>;
    for (const name of PLAYER_HISTOGRAMS) out[name] = summarize(byName[name]);
    latencyByProtocol[p] = out;
  }
  const byProtocol: Summary['byProtocol'] = {};
  for (const [p, pt] of Object.entries(r.byProtocol) as [PlayProtocol, Totals][]) {
    byProtocol[p] = { connected: pt.playersConnected, failed: pt.playersFailed, dropped: pt.playersDropped, withFrames: pt.playersWithFrames, mbitIn: mbit(pt.bytesIn), gaps: pt.gaps };
  }
  const s: Omit<Summary, 'thresholds'> = {
    tool: 'sluice-loadtest',
    startedAt: new Date(r.t0Ms).toISOString(),
    options: r.options,
    durationS: r2((r.endMs - r.t0Ms) / 1000),
    wallS: r2((r.finishedMs - r.t0Ms) / 1000),
    publishers: { target: r.publishersTarget, live: t.publishersLive, failed: t.publishersFailed, dropped: t.publishersDropped, framesSent: t.framesSent },
    players: {
      target: r.playersTarget,
      connected: t.playersConnected,
      failed: t.playersFailed,
      dropped: t.playersDropped,
      withFrames: t.playersWithFrames,
      withHeaders: t.playersWithHeaders,
    },
    byProtocol,
    throughput: {
      steadyMbpsIn: steadyThroughput(r),
      peakMbpsIn: Math.max(0, ...r.timeline.map((p) => p.mbpsIn)),
      mbitIn: mbit(t.bytesIn),
      mbitOut: mbit(t.bytesOut),
    },
    frames: { received: t.framesIn, cached: t.cachedFrames, gaps: t.gaps, reorders: t.reorders, foreign: t.foreignFrames, gapRate: Math.round(gapRate(t) * 1e6) / 1e6 },
    latencyMs,
    steadyLatencyMs: summarize(r.steadyLatency),
    latencyByProtocol,
    timeline: r.timeline,
    errors: r.errors,
  };
  return { ...s, thresholds: checkThresholds(r.options, s) };
}

const pad = (v: string | number, n: number): string => String(v).padStart(n);

/** The terminal report: counts, then one percentile row per histogram (ms). */
export function formatSummary(s: Summary): string {
  const lines: string[] = [];
  const p = s.players;
  lines.push(
    `publishers ${s.publishers.live}/${s.publishers.target} live (${s.publishers.failed} failed, ${s.publishers.dropped} dropped), ${s.publishers.framesSent} frames sent`,
    `players    ${p.connected}/${p.target} connected, ${p.withFrames} got frames, ${p.withHeaders} got headers, ${p.failed} failed, ${p.dropped} dropped`,
  );
  for (const [proto, b] of Object.entries(s.byProtocol)) {
    lines.push(`  ${proto.padEnd(9)}${b.connected} connected, ${b.withFrames} got frames, ${b.failed} failed, ${b.dropped} dropped, ${b.mbitIn} Mbit in, ${b.gaps} gaps`);
  }
  const f = s.frames;
  lines.push(
    `throughput ${s.throughput.steadyMbpsIn} Mbit/s to players after the ramp (peak ${s.throughput.peakMbpsIn}), ${s.throughput.mbitIn} Mbit in, ${s.throughput.mbitOut} Mbit out`,
    `latency    video p50 ${s.steadyLatencyMs.p50} / p99 ${s.steadyLatencyMs.p99} ms after the ramp (${s.steadyLatencyMs.count} frames)`,
    `frames     ${f.received} received (${f.cached} from the GOP cache), ${f.gaps} gaps (rate ${f.gapRate}), ${f.reorders} reordered, ${f.foreign} foreign`,
    '',
    `${'ms'.padEnd(14)}${pad('count', 9)}${pad('min', 9)}${pad('p50', 9)}${pad('p90', 9)}${pad('p99', 9)}${pad('p99.9', 9)}${pad('max', 9)}${pad('mean', 9)}`,
  );
  for (const [name, l] of Object.entries(s.latencyMs)) {
    const v = (x: number): string => pad(x.toFixed(x >= 100 ? 1 : 3), 9);
    lines.push(`${name.padEnd(14)}${pad(l.count, 9)}${v(l.min)}${v(l.p50)}${v(l.p90)}${v(l.p99)}${v(l.p999)}${v(l.max)}${v(l.mean)}`);
  }
  const errs = Object.entries(s.errors).sort((a, b) => b[1] - a[1]);
  if (errs.length > 0) {
    lines.push('', 'errors:');
    for (const [msg, n] of errs.slice(0, 10)) lines.push(`  ${pad(n, 6)}  ${msg}`);
  }
  if (s.thresholds.length > 0) {
    lines.push('');
    for (const t of s.thresholds) lines.push(`${t.ok ? 'PASS' : 'FAIL'} --${t.name}: ${t.message}`);
  }
  return lines.join('\n');
}

/**
 * What the soak prints and writes: one compact line per sample, the
 * summary table of every series with its verdict, what the churn did, and
 * soak.json (options, samples, tallies, verdict, server log summary).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogSummary } from './server-log.js';
import type { Counts, Sample, SoakOptions, Tallies } from './types.js';
import type { SeriesVerdict, Verdict } from './verdict.js';

const n = (v: number | undefined, digits = 0): string => (v === undefined ? '?' : v.toFixed(digits));

export function sampleLine(s: Sample): string {
  const v = s.values;
  const i = s.info;
  const by = i.connectionsBy;
  const split = by ? `[r${n(by.rtmp)}/h${n(by['http-flv'])}/w${n(by['ws-flv'])}]` : '';
  const grace = i.streamStates?.grace ?? 0;
  const waiting = i.streamStates?.waiting ?? 0;
  return [
    `${n(s.t).padStart(5)}s ${s.phase.padEnd(8)}`,
    `rss=${n(v.rssMb, 1)}MB heap=${n(v.heapMb, 1)}MB fd=${n(v.fds)} thr=${n(v.threads)}`,
    `conn=${n(v.connections)}${split} play=${n(v.players)} pub=${n(v.publishers)} live=${n(v.streams)}`,
    `slab=${n(v.slabStreams)}(grace ${grace}, waiting ${waiting}) clients=${n(v.clients)} evicted=${n(i.evictedTotal)} hsfail=${n(i.handshakeFailuresTotal)}`,
    i.errors ? `ERR ${i.errors.join('; ')}` : '',
  ]
    .filter(Boolean)
    .join('  ');
}

const fmt = (v: number | undefined): string => (v === undefined ? '-' : Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1));

function result(s: SeriesVerdict): string {
  if (s.growth.grows) return 'FAIL grows';
  if (s.quiet && !s.quiet.ok) return 'FAIL not back to baseline';
  return s.growth.judged ? 'ok' : 'ok (growth not judged)';
}

export function summaryTable(v: Verdict): string {
  const head = ['series', 'baseline', 'min', 'max', 'churn end', 'quiet end', 'max mid→last', 'median mid→last', 'tol', 'slope/h', 'result'];
  const rows = v.series.map((s) => [
    s.series,
    fmt(s.baseline),
    fmt(s.min),
    fmt(s.max),
    fmt(s.churnEnd),
    s.quiet?.judged ? `${fmt(s.quiet.end)} (≤${fmt(s.quiet.limit)})` : '-',
    s.growth.judged ? `${fmt(s.growth.middleMax)}→${fmt(s.growth.lastMax)}` : '-',
    s.growth.judged ? `${fmt(s.growth.middleMedian)}→${fmt(s.growth.lastMedian)}` : '-',
    s.growth.judged ? fmt(s.growth.tolerance) : '-',
    s.growth.judged ? fmt(s.growth.slopePerHour) : '-',
    result(s),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string => r.map((x, c) => (c === 0 || c === r.length - 1 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join('  ').trimEnd();
  const notJudged = v.series.find((s) => !s.growth.judged);
  return [
    line(head),
    ...rows.map(line),
    `growth judged on churn samples from t=${v.judgedFromS.toFixed(0)} s (warm-up ${v.warmupS.toFixed(0)} s)${notJudged ? `; not judged: ${notJudged.growth.why}` : ''}`,
    'heapMb is the primary thread only (prom-client); workers\' heaps are not exposed, RSS covers them.',
    'slabStreams = live + grace entries of /api/v1/streams; slabsInUse = the slab pool (sluice_stream_slabs).',
  ].join('\n');
}

function counts(c: Counts): string {
  const e = Object.entries(c).filter(([, x]) => x > 0);
  return e.length === 0 ? '-' : e.map(([k, x]) => `${k} ${x}`).join(', ');
}

export function talliesText(t: Tallies): string {
  const lines = [`publishers: ${counts(t.publishers)}`];
  for (const [p, c] of Object.entries(t.players)) lines.push(`players ${p}: ${counts(c)}`);
  for (const [p, c] of Object.entries(t.stalls)) lines.push(`stalled ${p}: ${counts(c)}`);
  if (t.stallClosedAfterMs.length > 0) {
    const s = [...t.stallClosedAfterMs].sort((a, b) => a - b);
    lines.push(`stalled players closed by the server after (ms from the last read): min ${s[0]}, median ${s[s.length >> 1]}, max ${s[s.length - 1]}`);
  }
  for (const [k, c] of Object.entries(t.abuse)) lines.push(`abuse ${k}: ${counts(c)}`);
  return lines.join('\n');
}

export function logText(l: LogSummary): string {
  const levels = Object.entries(l.byLevel).map(([k, x]) => `${k} ${x}`).join(', ');
  const lines = [`server log: ${l.lines} lines (${levels || 'none'})`];
  for (const p of l.problems.slice(0, 15)) lines.push(`  ${String(p.count).padStart(6)}  ${p.what}`);
  for (const r of l.raw.slice(0, 5)) lines.push(`  not JSON: ${r}`);
  return lines.join('\n');
}

export interface SoakReport {
  options: SoakOptions;
  server: { pid: number; ports: { rtmp: number; http: number; admin: number }; exit: { code: number | null; signal: string | null } | undefined; log: LogSummary };
  window: { churnStartS: number; churnEndS: number; quietEndS: number };
  interrupted: boolean;
  tallies: Tallies;
  verdict: Verdict;
  samples: Sample[];
}

export function writeReport(dir: string, r: SoakReport): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'soak.json');
  writeFileSync(path, `${JSON.stringify(r, null, 2)}\n`);
  return path;
}

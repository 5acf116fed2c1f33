/**
 * `sluice loadtest compare A/summary.json B/summary.json [...] [--out DIR]`:
 * two or more runs side by side (before/after a change, sluice against
 * nginx-rtmp), as a text table and, with --out, compare.html. Each column
 * is one run, labelled by its directory (or --label); the last column of a
 * two-run comparison is B/A, so a ratio reads "B costs 0.8× of A".
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { SluiceError } from '../src/core/errors.js';
import { HISTOGRAMS, PLAYER_HISTOGRAMS, type HistogramName } from './histograms.js';
import { htmlTable, REPORT_STYLE } from './report-html.js';
import { escapeXml } from './svg-chart.js';
import type { Summary } from './summary.js';

export const COMPARE_HELP = `sluice loadtest compare A/summary.json B/summary.json [...] [--label NAME ...] [--out DIR]
Puts two or more runs' summary.json side by side; with two, adds B/A.
`;

interface Run {
  label: string;
  s: Summary;
}

type Row = [string, ...(number | string)[]];

function readRun(path: string, label: string | undefined): Run {
  let s: Summary;
  try {
    s = JSON.parse(readFileSync(path, 'utf8')) as Summary;
  } catch (err) {
    throw new SluiceError('ERR_CONFIG', `compare: cannot read ${path}: ${(err as Error).message}`);
  }
  if (s.tool !== 'sluice-loadtest') throw new SluiceError('ERR_CONFIG', `compare: ${path} is not a loadtest summary.json`);
  return { label: label ?? basename(dirname(path)), s };
}

/** The rows every comparison shows: load, delivery, then latency percentiles per histogram and protocol. */
export function compareRows(runs: Run[]): Row[] {
  const rows: Row[] = [];
  const add = (name: string, f: (s: Summary) => number | undefined): void => {
    const vals = runs.map((r) => f(r.s));
    const row: Row = [name, ...vals.map((v) => (v === undefined ? '-' : v))];
    const [a, b] = vals;
    if (runs.length === 2) row.push(a !== undefined && b !== undefined && a !== 0 ? `${(b / a).toFixed(2)}×` : '-');
    rows.push(row);
  };
  add('players with frames', (s) => s.players.withFrames);
  add('players failed + dropped', (s) => s.players.failed + s.players.dropped);
  add('Mbit/s to players (after ramp)', (s) => s.throughput.steadyMbpsIn);
  add('frame gaps', (s) => s.frames.gaps);
  for (const name of Object.keys(HISTOGRAMS) as HistogramName[]) {
    for (const p of ['p50', 'p99', 'p999'] as const) add(`${name} ${p} ms`, (s) => (s.latencyMs[name]?.count ? s.latencyMs[name][p] : undefined));
  }
  const protocols = [...new Set(runs.flatMap((r) => Object.keys(r.s.latencyByProtocol ?? {})))] as (keyof Summary['latencyByProtocol'])[];
  for (const proto of protocols) {
    for (const name of PLAYER_HISTOGRAMS) {
      for (const p of ['p50', 'p99'] as const) add(`${proto} ${name} ${p} ms`, (s) => (s.latencyByProtocol?.[proto]?.[name].count ? s.latencyByProtocol[proto]![name][p] : undefined));
    }
  }
  return rows;
}

function formatText(runs: Run[], rows: Row[]): string {
  const head = ['', ...runs.map((r) => r.label), ...(runs.length === 2 ? ['B/A'] : [])];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells: (string | number)[]): string => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

function compareHtml(runs: Run[], rows: Row[]): string {
  const head = ['', ...runs.map((r) => r.label), ...(runs.length === 2 ? ['B/A'] : [])];
  const meta = runs.map((r) => `<li><b>${escapeXml(r.label)}</b>: ${escapeXml(`${r.s.startedAt}, ${r.s.options.target}, ${r.s.options.publishers} × ${r.s.options.players} players (${r.s.options.playProtocols.join(', ')}), ${r.s.durationS} s`)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sluice loadtest comparison</title>
<style>${REPORT_STYLE}</style></head><body>
<h1>sluice loadtest comparison</h1>
<ul class="meta">${meta}</ul>
${htmlTable(head, rows)}
</body></html>
`;
}

/** Runs the compare command; returns the exit status. */
export function runCompare(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' }, label: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    out(COMPARE_HELP);
    return 0;
  }
  if (positionals.length < 2) throw new SluiceError('ERR_CONFIG', 'compare: give two or more summary.json files');
  const runs = positionals.map((p, i) => readRun(p, values.label?.[i]));
  const rows = compareRows(runs);
  out(`${formatText(runs, rows)}\n`);
  if (values.out) {
    mkdirSync(values.out, { recursive: true });
    writeFileSync(join(values.out, 'compare.html'), compareHtml(runs, rows));
    out(`\nwrote ${join(values.out, 'compare.html')}\n`);
  }
  return 0;
}

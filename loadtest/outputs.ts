/**
 * The files of `--out DIR`: summary.json, one NAME.hgrm per histogram
 * (HdrHistogram percentile distribution text, ms) and report.html.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hgrmText, percentilePoints, type HistogramName } from './histograms.js';
import { reportHtml, type PercentilePoint } from './report-html.js';
import type { LoadtestResult } from './run.js';
import type { Summary } from './summary.js';

/** Writes the report files; returns their paths. */
export function writeOutputs(dir: string, r: LoadtestResult, s: Summary): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, text: string): void => {
    const path = join(dir, name);
    writeFileSync(path, text);
    written.push(path);
  };
  write('summary.json', `${JSON.stringify(s, null, 2)}\n`);
  const dist: Partial<Record<HistogramName, PercentilePoint[]>> = {};
  for (const [name, h] of Object.entries(r.histograms) as [HistogramName, LoadtestResult['histograms'][HistogramName]][]) {
    write(`${name}.hgrm`, hgrmText(h));
    dist[name] = percentilePoints(h);
  }
  for (const [p, byName] of Object.entries(r.protocolHistograms ?? {})) {
    for (const [name, h] of Object.entries(byName)) write(`${name}.${p}.hgrm`, hgrmText(h));
  }
  write('report.html', reportHtml(s, dist));
  return written;
}

/**
 * `npm run bench [-- name ...]`: the micro-benchmarks, each against its
 * baselines in this same process, then one table of every ratio.
 * Names pick benches by substring: `npm run bench -- chunk-reader amf0`.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fmt, fmtRatio, type Bench, type Row } from './bench.js';
import { bench as tagRing } from './core/tag-ring.bench.js';
import { bench as fanOut } from './media/fan-out.bench.js';
import { bench as amf0 } from './protocol/amf0.bench.js';
import { bench as chunkReader } from './protocol/chunk-reader.bench.js';
import { bench as chunkWriter } from './protocol/chunk-writer.bench.js';
import { bench as flvTag } from './protocol/flv-tag.bench.js';
import { bench as hlsPart } from './hls/hls-part.bench.js';
import { bench as tsSegment } from './hls/ts-segment.bench.js';

const ALL: Bench[] = [chunkReader, chunkWriter, amf0, flvTag, tagRing, fanOut, hlsPart, tsSegment];

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1]!.trim() : 'unknown CPU';
  } catch {
    return 'unknown CPU';
  }
}

function table(rows: readonly Row[]): void {
  const head = ['bench', 'point', 'sluice', 'baseline', 'unit', 'ratio'];
  const body = rows.map((r) => [
    r.bench,
    r.point,
    `${fmt(r.sluiceValue)} ${r.sluice}`,
    `${fmt(r.baselineValue)} ${r.baseline}`,
    r.unit,
    fmtRatio(r.ratio),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const b of body) console.log(line(b));
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const picked = wanted.length === 0 ? ALL : ALL.filter((b) => wanted.some((w) => b.name.includes(w)));
  if (picked.length === 0) {
    console.error(`no bench matches ${wanted.join(' ')}; benches: ${ALL.map((b) => b.name).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  console.log(`sluice micro-benchmarks: node ${process.version} ${process.arch}, ${cpuModel()} (${availableParallelism()} CPUs, load ${loadavg()[0]!.toFixed(2)})`);
  console.log('ratio = sluice / baseline throughput in this run: above 1 is faster.\n');
  const started = Date.now();
  const rows: Row[] = [];
  for (const b of picked) {
    console.log(`${b.name}: ${b.title}`);
    rows.push(...(await b.run()));
    console.log('');
  }
  console.log(`ratios (${((Date.now() - started) / 1000).toFixed(0)} s):`);
  table(rows);
}

await main();

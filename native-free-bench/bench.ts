/**
 * The harness every micro-benchmark uses. A point races sluice's function
 * against one or more baselines in the same process, in interleaved slices
 * (A B C, B C A, ... so that a noisy neighbour or a GC hits every contender
 * alike), for about POINT_MS in all, and reports each one's throughput and
 * the ratio sluice / baseline. Only the ratios are comparable across
 * machines; the absolute figures are this run's.
 */

/** Time a point gets, shared by its contenders (warm-up not included). */
export const POINT_MS = 1000;
const ROUNDS = 4;
const WARM_MS = 120;
/** Ops per clock read: enough that reading the clock is noise, few enough to stop on time. */
const BATCH_NS = 200_000;

export interface Contender {
  name: string;
  /** sluice's code (ratios are taken from it), a baseline (ratios are taken against it), or a figure shown for context. */
  side: 'sluice' | 'baseline' | 'info';
  /** One operation; what it amounts to is the point's `perOp`. */
  op: () => void;
}

export interface Unit {
  /** e.g. 'MB/s', 'ops/s', 'tags/s'. */
  label: string;
  /** Units one op amounts to (MB of media parsed, 1 op, 1 tag...). */
  perOp: number;
}

/** One line of the final table: a sluice contender against one baseline at one point. */
export interface Row {
  bench: string;
  point: string;
  unit: string;
  sluice: string;
  sluiceValue: number;
  baseline: string;
  baselineValue: number;
  /** sluiceValue / baselineValue: above 1, sluice is faster. */
  ratio: number;
}

/** Where ops put a result, so the JIT cannot drop the work that made it. */
export const sink = { value: 0 };

function now(): number {
  return Number(process.hrtime.bigint());
}

interface Tally {
  c: Contender;
  batch: number;
  ops: number;
  ns: number;
}

function runFor(t: Tally, ns: number): void {
  const { op } = t.c;
  const start = now();
  const until = start + ns;
  let ops = 0;
  let at = start;
  do {
    for (let i = 0; i < t.batch; i++) op();
    ops += t.batch;
    at = now();
  } while (at < until);
  t.ops += ops;
  t.ns += at - start;
}

/** Ops/s of each contender, measured in interleaved slices over ~ms in all. */
export function race(contenders: readonly Contender[], ms = POINT_MS): number[] {
  const tallies: Tally[] = contenders.map((c) => ({ c, batch: 1, ops: 0, ns: 0 }));
  for (const t of tallies) {
    // Warm up (the JIT compiles the hot path), then size the batch from the warm speed.
    runFor(t, WARM_MS * 1e6);
    t.batch = Math.max(1, Math.min(1 << 20, Math.round(BATCH_NS / (t.ns / t.ops))));
    t.ops = 0;
    t.ns = 0;
  }
  const slice = (ms * 1e6) / (ROUNDS * tallies.length);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < tallies.length; i++) runFor(tallies[(i + r) % tallies.length]!, slice);
  }
  return tallies.map((t) => (t.ops * 1e9) / t.ns);
}

export function fmt(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (v >= 100) return v.toFixed(0);
  return v.toFixed(2);
}

export function fmtRatio(r: number): string {
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}x`;
}

/** Prints one point's figures and ratios; returns its rows (each sluice contender against each baseline). */
export function report(
  bench: string,
  point: string,
  unit: Unit,
  contenders: readonly Pick<Contender, 'name' | 'side'>[],
  opsPerSec: readonly number[],
): Row[] {
  console.log(`  ${point}`);
  const values = opsPerSec.map((o) => o * unit.perOp);
  contenders.forEach((c, i) => {
    console.log(`    ${c.side.padEnd(8)} ${c.name.padEnd(46)} ${fmt(values[i]!).padStart(9)} ${unit.label}`);
  });
  const rows: Row[] = [];
  contenders.forEach((s, i) => {
    if (s.side !== 'sluice') return;
    contenders.forEach((b, j) => {
      if (b.side !== 'baseline') return;
      const row: Row = {
        bench, point, unit: unit.label,
        sluice: s.name, sluiceValue: values[i]!,
        baseline: b.name, baselineValue: values[j]!,
        ratio: values[i]! / values[j]!,
      };
      console.log(`    ratio ${s.name} / ${b.name}: ${fmtRatio(row.ratio)}`);
      rows.push(row);
    });
  });
  return rows;
}

/** race + report. */
export function point(bench: string, label: string, unit: Unit, contenders: readonly Contender[], ms = POINT_MS): Row[] {
  return report(bench, label, unit, contenders, race(contenders, ms));
}

/** One file's benchmark, as run.ts lists it. */
export interface Bench {
  /** The name `npm run bench -- <name>` picks it by (the file's name). */
  name: string;
  /** What is measured against what, one line. */
  title: string;
  run(): Row[] | Promise<Row[]>;
}

/** Throws when a contender and its baseline did not do the same work: a ratio of different work is no ratio. */
export function same(what: string, a: unknown, b: unknown): void {
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    throw new Error(`bench setup: ${what} differ: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
}

/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for
 * /metrics: it fails the test on anything a scraper could trip on (a
 * histogram's buckets included), and looks samples up by name and labels.
 */
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/;
const SUFFIXES: Record<string, string[]> = { summary: ['', '_sum', '_count'], histogram: ['_bucket', '_sum', '_count'] };

/** A float as Go's strconv.ParseFloat reads it (the format's definition): NaN and Inf in any case (prom-client writes "Nan"). */
function parseValue(s: string, line: string): number {
  if (/^nan$/i.test(s)) return NaN;
  if (/^\+?inf(inity)?$/i.test(s)) return Infinity;
  if (/^-inf(inity)?$/i.test(s)) return -Infinity;
  assert.match(s, /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, `bad value in: ${line}`);
  return Number(s);
}

function parseLabels(body: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = body;
  while (rest.length > 0) {
    const m = LABEL.exec(rest);
    assert.ok(m, `bad labels in: ${line}`);
    assert.ok(!(m[1]! in out), `label ${m[1]} twice in: ${line}`);
    out[m[1]!] = m[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** Every family, checked: HELP/TYPE before samples, known types, sample names that belong to their family, no duplicate series. */
export function parseExposition(text: string): Map<string, MetricFamily> {
  assert.ok(text.endsWith('\n'), 'exposition ends with a newline');
  const families = new Map<string, MetricFamily>();
  const seen = new Set<string>();
  let current: [string, MetricFamily] | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, arg] = meta as unknown as [string, string, string, string];
      assert.match(name, NAME, `bad metric name in: ${line}`);
      let fam = families.get(name);
      if (!fam) families.set(name, (fam = { type: '', help: '', samples: [] }));
      assert.equal(fam.samples.length, 0, `${kind} after samples of ${name}`);
      if (kind === 'TYPE') {
        assert.ok(['counter', 'gauge', 'summary', 'histogram', 'untyped'].includes(arg), `bad type in: ${line}`);
        assert.equal(fam.type, '', `TYPE twice for ${name}`);
        fam.type = arg;
      } else {
        fam.help = arg;
      }
      current = [name, fam];
      continue;
    }
    assert.ok(!line.startsWith('#'), `unknown comment line: ${line}`);
    const m = SAMPLE.exec(line);
    assert.ok(m, `bad sample line: ${line}`);
    assert.ok(current, `sample before any TYPE: ${line}`);
    const [famName, fam] = current;
    const allowed = (SUFFIXES[fam.type] ?? ['']).map((s) => famName + s);
    assert.ok(allowed.includes(m[1]!), `sample ${m[1]} outside its family ${famName} (${fam.type})`);
    const labels = parseLabels(m[2] ?? '', line);
    const series = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(series), `series twice: ${line}`);
    seen.add(series);
    fam.samples.push({ name: m[1]!, labels, value: parseValue(m[3]!, line) });
  }
  for (const [name, f] of families) {
    assert.notEqual(f.type, '', `${name} has no TYPE`);
    if (f.type === 'histogram') checkHistogram(name, f);
  }
  return families;
}

/** The labels of a sample without `le`, as a key: one histogram series per key. */
const seriesKey = (labels: Record<string, string>): string =>
  JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());

/**
 * Per series: buckets in ascending `le` order ending at +Inf, cumulative
 * counts that never decrease, +Inf equal to `_count`, and a `_sum`.
 */
function checkHistogram(name: string, f: MetricFamily): void {
  const series = new Map<string, { les: number[]; counts: number[]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const k = seriesKey(s.labels);
    let h = series.get(k);
    if (!h) series.set(k, (h = { les: [], counts: [] }));
    if (s.name === `${name}_bucket`) {
      assert.ok(s.labels.le !== undefined, `${name}_bucket${k} without le`);
      h.les.push(parseValue(s.labels.le, `${name}_bucket le="${s.labels.le}"`));
      h.counts.push(s.value);
    } else {
      assert.equal(s.labels.le, undefined, `${s.name}${k} has le`);
      if (s.name === `${name}_sum`) h.sum = s.value;
      else h.count = s.value;
    }
  }
  for (const [k, h] of series) {
    const what = `${name}${k}`;
    assert.ok(h.les.length > 0, `${what}: no buckets`);
    assert.equal(h.les.at(-1), Infinity, `${what}: last bucket is not le="+Inf"`);
    for (let i = 1; i < h.les.length; i++) {
      assert.ok(h.les[i]! > h.les[i - 1]!, `${what}: le ${h.les[i]} after ${h.les[i - 1]}`);
      assert.ok(h.counts[i]! >= h.counts[i - 1]!, `${what}: bucket le=${h.les[i]} (${h.counts[i]}) below le=${h.les[i - 1]} (${h.counts[i - 1]})`);
    }
    assert.equal(h.count, h.counts.at(-1), `${what}: _count differs from the +Inf bucket`);
    assert.ok(h.sum !== undefined, `${what}: no _sum`);
  }
}

/** A histogram series' buckets as [le, cumulative count], in order; +Inf last. */
export function buckets(fams: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): [number, number][] {
  const fam = fams.get(name);
  assert.equal(fam?.type, 'histogram', `${name} is a histogram`);
  const want = seriesKey(labels);
  return fam.samples
    .filter((s) => s.name === `${name}_bucket` && seriesKey(s.labels) === want)
    .map((s): [number, number] => [parseValue(s.labels.le!, s.labels.le!), s.value]);
}

/** The one sample named `name` whose labels include `labels`. */
export function value(fams: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  const all = [...fams.values()].flatMap((f) => f.samples);
  const hits = all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(hits.length, 1, `${name}${JSON.stringify(labels)}: ${hits.length} samples`);
  return hits[0]!.value;
}

/** Sum of the samples named `name` whose labels include `labels`. */
export function sum(fams: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  return [...fams.values()]
    .flatMap((f) => f.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

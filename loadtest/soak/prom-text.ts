/**
 * Just enough of the Prometheus text exposition (0.0.4) to read gauges and
 * counters: `name{label="v",...} value` lines, comments skipped. The strict
 * reader the tests use is test/helpers/prometheus.ts; this one never throws
 * (a soak keeps sampling whatever a scrape looks like).
 */
export interface PromSample {
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseProm(text: string): Map<string, PromSample[]> {
  const out = new Map<string, PromSample[]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
    let list = out.get(m[1]!);
    if (!list) out.set(m[1]!, (list = []));
    list.push({ labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of a family's samples (undefined if the scrape lacks it). */
export function promSum(m: Map<string, PromSample[]>, name: string): number | undefined {
  const list = m.get(name);
  return list ? list.reduce((s, x) => s + x.value, 0) : undefined;
}

/** A family's samples by the value of one label. */
export function promBy(m: Map<string, PromSample[]>, name: string, label: string): Record<string, number> | undefined {
  const list = m.get(name);
  if (!list) return undefined;
  const by: Record<string, number> = {};
  for (const s of list) by[s.labels[label] ?? ''] = (by[s.labels[label] ?? ''] ?? 0) + s.value;
  return by;
}

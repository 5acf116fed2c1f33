/**
 * A small line chart as inline SVG (no scripts, no external files): linear
 * or log-10 x, linear y from 0, a legend. Enough for the report's
 * percentile distributions and time series.
 */

export interface Series {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
  /** Draw as steps (hold each value until the next x), as percentile plots are drawn. */
  step?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  logX?: boolean;
  /** Tick positions and labels for x (default: about 8 round values). */
  xTicks?: readonly { value: number; label: string }[];
  width?: number;
  height?: number;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Round tick values covering 0..max (1, 2, 5 × 10^k steps). */
export function niceTicks(max: number, target = 6): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const fmt = (v: number): string => (Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(3)).toString());

export function lineChart(spec: ChartSpec): string {
  const W = spec.width ?? 760;
  const H = spec.height ?? 300;
  const m = { l: 64, r: 150, t: 30, b: 46 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = spec.series.flatMap((s) => s.points);
  const tx = (x: number): number => (spec.logX ? Math.log10(Math.max(x, 1e-9)) : x);
  const xs = all.map((p) => tx(p[0]));
  let x0 = xs.length ? Math.min(...xs) : 0;
  let x1 = xs.length ? Math.max(...xs) : 1;
  if (spec.xTicks?.length) {
    x0 = Math.min(x0, ...spec.xTicks.map((t) => tx(t.value)));
    x1 = Math.max(x1, ...spec.xTicks.map((t) => tx(t.value)));
  }
  if (x1 === x0) x1 = x0 + 1;
  const yTicks = niceTicks(Math.max(0, ...all.map((p) => p[1])));
  const y1 = yTicks[yTicks.length - 1]!;
  const X = (x: number): number => m.l + ((tx(x) - x0) / (x1 - x0)) * pw;
  const Y = (y: number): number => m.t + ph - (y / y1) * ph;
  const xTicks = spec.xTicks ?? niceTicks(x1).filter((v) => v >= x0).map((v) => ({ value: v, label: fmt(v) }));

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${m.l}" y="18" font-size="13" font-weight="bold">${escapeXml(spec.title)}</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#ccc"/>`,
  ];
  for (const v of yTicks) {
    const y = Y(v).toFixed(1);
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`, `<text x="${m.l - 6}" y="${y}" text-anchor="end" dy="4">${fmt(v)}</text>`);
  }
  for (const t of xTicks) {
    const x = X(t.value).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.t}" y2="${m.t + ph}" stroke="#e4e4e4"/>`, `<text x="${x}" y="${m.t + ph + 15}" text-anchor="middle">${escapeXml(t.label)}</text>`);
  }
  parts.push(
    `<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
    `<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  );
  spec.series.forEach((s, i) => {
    if (s.points.length > 0) {
      const pts: string[] = [];
      s.points.forEach(([x, y], k) => {
        if (s.step && k > 0) pts.push(`${X(x).toFixed(1)},${Y(s.points[k - 1]![1]).toFixed(1)}`);
        pts.push(`${X(x).toFixed(1)},${Y(y).toFixed(1)}`);
      });
      parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.8" points="${pts.join(' ')}"/>`);
    }
    const ly = m.t + 10 + i * 16;
    parts.push(
      `<line x1="${m.l + pw + 12}" x2="${m.l + pw + 30}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`,
      `<text x="${m.l + pw + 36}" y="${ly + 4}">${escapeXml(s.name)}${s.points.length ? '' : ' (none)'}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * report.html: one self-contained page (inline SVG and CSS, no scripts)
 * with the run's numbers, HdrHistogram-style percentile distribution plots
 * (x: 1/(1-p) on a log scale, labelled in percentiles) and throughput,
 * latency and players over time.
 */
import { HISTOGRAMS, PLAYER_HISTOGRAMS, type HistogramName } from './histograms.js';
import type { Summary } from './summary.js';
import { escapeXml, lineChart, type Series } from './svg-chart.js';

export interface PercentilePoint {
  percentile: number;
  inverse: number;
  ms: number;
}

const COLORS: Record<HistogramName, string> = {
  latency: '#1f77b4',
  'audio-latency': '#2ca02c',
  ttff: '#d62728',
  connect: '#9467bd',
  'send-lag': '#ff7f0e',
};

/** x ticks at 0%, 50%, 90%, 99%, 99.9%, ... up to the largest 1/(1-p) plotted. */
function percentileTicks(maxInverse: number): { value: number; label: string }[] {
  const ticks = [{ value: 1, label: '0%' }, { value: 2, label: '50%' }];
  for (let k = 1, v = 10; v <= Math.max(10, maxInverse * 1.0001); k++, v *= 10) {
    ticks.push({ value: v, label: `${(100 - 100 / v).toFixed(Math.max(0, k - 2))}%` });
  }
  return ticks;
}

function distributionChart(title: string, names: HistogramName[], dist: Partial<Record<HistogramName, PercentilePoint[]>>): string {
  const series: Series[] = names.map((n) => ({ name: n, color: COLORS[n], step: true, points: (dist[n] ?? []).map((p) => [p.inverse, p.ms] as const) }));
  const maxInverse = Math.max(2, ...series.flatMap((s) => s.points.map((p) => p[0])));
  return lineChart({ title, xLabel: 'percentile (log scale on 1/(1-p))', yLabel: 'ms', series, logX: true, xTicks: percentileTicks(maxInverse) });
}

/** An HTML table: first column text, the rest right-aligned numbers (also compare.ts's). */
export function htmlTable(head: string[] | undefined, rows: (string | number)[][]): string {
  const th = head ? `<thead><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead>` : '';
  const trs = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<td>${escapeXml(String(c))}</td>` : `<td class="n">${escapeXml(String(c))}</td>`)).join('')}</tr>`);
  return `<table>${th}<tbody>${trs.join('')}</tbody></table>`;
}

export const REPORT_STYLE = `
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1000px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; font-size: 13px; }
th { background: #f0f0f0; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #17803d; } .fail { color: #c0392b; font-weight: bold; } .meta { color: #555; font-size: 13px; }
svg { display: block; margin: 12px 0; }
`;

export function reportHtml(s: Summary, dist: Partial<Record<HistogramName, PercentilePoint[]>>): string {
  const o = s.options;
  const tl = s.timeline;
  const source = o.file ? `replay of ${o.file}` : `synthetic ${o.bitrateKbps} kbit/s video, ${o.fps} fps, GOP ${o.gop}${o.audio ? ', AAC audio' : ''}`;
  const verdicts = s.thresholds.map((t) => `<li class="${t.ok ? 'pass' : 'fail'}">${t.ok ? 'PASS' : 'FAIL'} --${t.name}: ${escapeXml(t.message)}</li>`).join('');
  const latencyRows = (Object.keys(HISTOGRAMS) as HistogramName[]).map((n) => {
    const l = s.latencyMs[n];
    return [n, l.count, l.min, l.p50, l.p90, l.p99, l.p999, l.max, l.mean];
  });
  // One row per protocol and player histogram, when the run mixed protocols or not: RTMP, HTTP-FLV, WS-FLV apart.
  const protocolRows = Object.entries(s.latencyByProtocol ?? {}).flatMap(([p, byName]) =>
    PLAYER_HISTOGRAMS.map((n) => {
      const l = byName[n];
      return [`${p} ${n}`, l.count, l.min, l.p50, l.p90, l.p99, l.p999, l.max, l.mean];
    }),
  );
  const counts = [
    ['publishers live / target', `${s.publishers.live} / ${s.publishers.target}`],
    ['players connected / target', `${s.players.connected} / ${s.players.target}`],
    ['players with frames / with headers', `${s.players.withFrames} / ${s.players.withHeaders}`],
    ['players failed / dropped', `${s.players.failed} / ${s.players.dropped}`],
    ['throughput after ramp / peak (Mbit/s)', `${s.throughput.steadyMbpsIn} / ${s.throughput.peakMbpsIn}`],
    ['frames received (from GOP cache)', `${s.frames.received} (${s.frames.cached})`],
    ['gaps / gap rate / reorders', `${s.frames.gaps} / ${s.frames.gapRate} / ${s.frames.reorders}`],
  ];
  const charts = [
    distributionChart('Frame latency distribution', ['latency', 'audio-latency', 'send-lag'], dist),
    distributionChart('Player start distribution', ['ttff', 'connect'], dist),
    lineChart({
      title: 'Throughput over time',
      xLabel: 's since start',
      yLabel: 'Mbit/s',
      series: [
        { name: 'to players', color: '#1f77b4', points: tl.map((p) => [p.t, p.mbpsIn] as const) },
        { name: 'from publishers', color: '#ff7f0e', points: tl.map((p) => [p.t, p.mbpsOut] as const) },
      ],
    }),
    lineChart({
      title: 'Video latency per second',
      xLabel: 's since start',
      yLabel: 'ms',
      series: (['p50', 'p99', 'max'] as const).map((k, i) => ({
        name: k,
        color: ['#2ca02c', '#1f77b4', '#d62728'][i]!,
        points: tl.filter((p) => p.count > 0).map((p) => [p.t, p[k]] as const),
      })),
    }),
    lineChart({
      title: 'Players playing',
      xLabel: 's since start',
      yLabel: 'players',
      series: [{ name: 'playing', color: '#9467bd', points: tl.map((p) => [p.t, p.playing] as const) }],
    }),
  ];
  const errors = Object.entries(s.errors).sort((a, b) => b[1] - a[1]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sluice loadtest ${escapeXml(s.startedAt)}</title>
<style>${REPORT_STYLE}</style></head><body>
<h1>sluice loadtest</h1>
<p class="meta">${escapeXml(s.startedAt)} · target ${escapeXml(o.target)} · play ${escapeXml(o.playProtocols.join(', '))} ·
${o.publishers} publisher(s) × ${o.players} player(s) · ${escapeXml(source)} · ramp ${o.rampS} s · ${s.durationS} s run</p>
${verdicts ? `<ul>${verdicts}</ul>` : ''}
<h2>Counts</h2>
${htmlTable(undefined, counts)}
<h2>Latency (ms)</h2>
${htmlTable(['histogram', 'count', 'min', 'p50', 'p90', 'p99', 'p99.9', 'max', 'mean'], latencyRows)}
<p class="meta">${(Object.keys(HISTOGRAMS) as HistogramName[]).map((n) => `<b>${n}</b>: ${escapeXml(HISTOGRAMS[n])}`).join('<br>')}</p>
${protocolRows.length ? `<h2>Latency per play protocol (ms)</h2>\n${htmlTable(['protocol histogram', 'count', 'min', 'p50', 'p90', 'p99', 'p99.9', 'max', 'mean'], protocolRows)}` : ''}
<h2>Charts</h2>
${charts.join('\n')}
${errors.length ? `<h2>Errors</h2>${htmlTable(['error', 'count'], errors.map(([m, n]) => [m, n]))}` : ''}
</body></html>
`;
}

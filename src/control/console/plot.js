// Line plots on a plain <canvas> for the console: a few series over time, no chart library.
'use strict';

(() => {
  const PAD = { left: 48, right: 12, top: 10, bottom: 22 };

  /** The smallest 1-2-5 step ceiling at or above `v`, so axis labels stay round. */
  function niceCeil(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  /** Backing store at the device pixel ratio, so lines are sharp on HiDPI screens. */
  function fit(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || canvas.width;
    const h = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { ctx, w, h };
  }

  /** The x axis grows with the history, from a minute up to `maxSpanMs`, so a fresh page is not a flat edge. */
  const MIN_SPAN_MS = 60_000;

  const spanLabel = (ms) => (ms < 120_000 ? `-${Math.round(ms / 1000)} s` : `-${Math.round(ms / 60_000)} min`);

  /**
   * points: [{ t (ms since the epoch), [key]: number | null }]; series: [{ key, color }].
   * A null value breaks its line (an empty latency window is not a zero).
   */
  function draw(canvas, points, series, maxSpanMs) {
    const { ctx, w, h } = fit(canvas);
    const css = getComputedStyle(canvas);
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    const plotW = w - PAD.left - PAD.right;
    const plotH = h - PAD.top - PAD.bottom;
    const now = points.length ? points[points.length - 1].t : Date.now();
    const spanMs = Math.min(maxSpanMs, Math.max(MIN_SPAN_MS, points.length ? now - points[0].t : 0));
    const t0 = now - spanMs;
    let max = 0;
    for (const p of points) for (const s of series) if (p[s.key] != null) max = Math.max(max, p[s.key]);
    const top = niceCeil(max);
    const x = (t) => PAD.left + ((t - t0) / spanMs) * plotW;
    const y = (v) => PAD.top + plotH - (v / top) * plotH;

    // Grid: four horizontal lines with their values, the time span at the bottom.
    ctx.strokeStyle = css.getPropertyValue('--grid') || '#ddd';
    ctx.fillStyle = css.getPropertyValue('--axis') || '#666';
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = (top * i) / 4;
      const py = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(PAD.left, py);
      ctx.lineTo(PAD.left + plotW, py);
      ctx.stroke();
      ctx.fillText(Number(v.toPrecision(3)).toString(), PAD.left - 6, py);
    }
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left';
    ctx.fillText(spanLabel(spanMs), PAD.left, h - 6);
    ctx.textAlign = 'right';
    ctx.fillText('now', PAD.left + plotW, h - 6);

    ctx.lineWidth = 2;
    for (const s of series) {
      ctx.strokeStyle = s.color;
      ctx.beginPath();
      let pen = false;
      for (const p of points) {
        const v = p[s.key];
        if (v == null || p.t < t0) {
          pen = false;
          continue;
        }
        if (pen) ctx.lineTo(x(p.t), y(v));
        else ctx.moveTo(x(p.t), y(v));
        pen = true;
      }
      ctx.stroke();
    }
    if (points.length === 0) {
      ctx.textAlign = 'center';
      ctx.fillText('no samples yet', PAD.left + plotW / 2, PAD.top + plotH / 2);
    }
  }

  window.sluicePlot = { draw };
})();

// The sluice web console (docs/console.md): streams, clients and latency from the admin API, players for each stream.
'use strict';

(() => {
  const REFRESH_MS = 2000;
  /** Five minutes of plot at one point per refresh. */
  const SPAN_MS = 5 * 60_000;

  // A browser cannot send a header on page load, so the token comes in ?token= and goes out as a bearer header.
  const token = new URLSearchParams(location.search).get('token');
  const tokenQuery = token ? `?token=${encodeURIComponent(token)}` : '';

  const $ = (id) => document.getElementById(id);
  const points = [];
  let playback = null;
  /** The open player: { key, transport, destroy() }. */
  let current = null;
  let refreshing = false;

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path, method = 'GET') {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const r = await fetch(path, { method, headers, cache: 'no-store' });
    if (r.status === 204) return null;
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new ApiError(r.status, body?.error?.code ?? 'HTTP', body?.error?.message ?? `${method} ${path}: ${r.status}`);
    return body;
  }

  /** An element with text children (never innerHTML: keys and peers come from clients). */
  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'dataset') Object.assign(e.dataset, v);
      else if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : String(c ?? ''));
    return e;
  }

  const td = (...c) => el('td', {}, ...c);

  function bits(bps) {
    if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mbit/s`;
    return `${Math.round(bps / 1e3)} kbit/s`;
  }

  function bytes(n) {
    if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
    if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
    if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
    return `${n} B`;
  }

  function duration(s) {
    if (s == null) return '';
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
  }

  /** Arrival times are wall-clock milliseconds, so 0 means under one. */
  const ms = (v) => (v == null ? '–' : v === 0 ? '< 1 ms' : `${v} ms`);

  function videoText(v) {
    if (!v) return '';
    const size = v.width && v.height ? ` ${v.width}×${v.height}` : '';
    const fps = v.fps ? ` @${Number(v.fps.toFixed(2))} fps` : '';
    return `${v.codec ?? '?'}${size}${fps}`;
  }

  function sourceText(s) {
    if (!s) return '';
    return s.type === 'pull' ? `pull ${s.origin ?? ''}`.trim() : 'publisher';
  }

  // ---- players -----------------------------------------------------------------

  /** An IPv6 literal needs brackets in a URL (location.hostname already has them). */
  function playbackBase(scheme) {
    let host = playback?.host ?? location.hostname;
    if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
    const tls = playback?.httpPort == null;
    const port = tls ? playback?.httpsPort : playback.httpPort;
    return `${tls ? `${scheme}s` : scheme}://${host}:${port}`;
  }

  const streamPath = (s, ext) => `/${encodeURIComponent(s.app)}/${s.name.split('/').map(encodeURIComponent).join('/')}.${ext}`;

  const libs = new Map();
  /** mpegts.js and hls.js are loaded on first use from the admin port (never a CDN). */
  function loadLib(name, global) {
    if (window[global]) return Promise.resolve(window[global]);
    if (!libs.has(name)) {
      libs.set(name, new Promise((resolve, reject) => {
        const s = el('script', { src: `console/lib/${name}.js${tokenQuery}` });
        s.onload = () => resolve(window[global]);
        s.onerror = () => reject(new Error(`could not load ${name}.js`));
        document.head.append(s);
      }));
    }
    return libs.get(name);
  }

  async function startFlv(video, s, transport) {
    const mpegts = await loadLib('mpegts', 'mpegts');
    // Its per-segment info lines would fill the browser console; warnings and errors stay.
    mpegts.LoggingControl.enableVerbose = false;
    mpegts.LoggingControl.enableInfo = false;
    if (!mpegts.isSupported()) throw new Error('this browser has no Media Source Extensions: FLV cannot play');
    const url = playbackBase(transport === 'ws-flv' ? 'ws' : 'http') + streamPath(s, 'flv');
    const player = mpegts.createPlayer(
      { type: 'flv', isLive: true, url, hasAudio: s.audio !== null, hasVideo: s.video !== null },
      // Live: keep the buffer short and chase the live edge rather than drift behind it.
      { enableStashBuffer: false, liveBufferLatencyChasing: true, lazyLoad: false },
    );
    player.on(mpegts.Events.ERROR, (type, detail) => playerError(`${transport}: ${type} ${detail}`));
    player.attachMediaElement(video);
    player.load();
    await Promise.resolve(player.play()).catch(() => undefined);
    return { url, destroy: () => player.destroy() };
  }

  async function startHls(video, s) {
    const url = playbackBase('http') + streamPath(s, 'm3u8');
    const Hls = await loadLib('hls', 'Hls');
    if (Hls.isSupported()) {
      const hls = new Hls({ lowLatencyMode: true });
      hls.on(Hls.Events.ERROR, (_e, d) => d.fatal && playerError(`hls: ${d.type} ${d.details}${d.response?.code ? ` (${d.response.code})` : ''}`));
      hls.loadSource(url);
      hls.attachMedia(video);
      video.play().catch(() => undefined);
      // How far behind the live edge the picture is: from the segments' PROGRAM-DATE-TIME (the server's ingest clock).
      const lag = () => (hls.playingDate ? (Date.now() - hls.playingDate.getTime()) / 1000 : undefined);
      video.dataset.hls = 'on';
      return { url, destroy: () => hls.destroy(), lag };
    }
    // Safari plays HLS itself.
    video.src = url;
    video.play().catch(() => undefined);
    return { url, destroy: () => video.removeAttribute('src') };
  }

  function showPlayerStatus(text) {
    $('player-status').textContent = text;
  }

  /** Kept on the status line: the clock below would overwrite a one-off message. */
  function playerError(text) {
    if (current) current.error = text;
    else showPlayerStatus(text);
  }

  function closePlayer() {
    current?.destroy();
    current = null;
    const video = $('player');
    video.removeAttribute('src');
    video.load();
    $('player-panel').hidden = true;
  }

  async function play(s, transport) {
    closePlayer();
    $('player-panel').hidden = false;
    $('player-title').textContent = `${s.key} · ${transport}`;
    showPlayerStatus('starting…');
    const video = $('player');
    try {
      const p = transport === 'hls' ? await startHls(video, s) : await startFlv(video, s, transport);
      current = { key: s.key, transport, ...p };
      $('player').dataset.url = p.url;
    } catch (err) {
      showPlayerStatus(`${transport}: ${err.message}`);
    }
  }

  // ---- rendering -----------------------------------------------------------------

  let streams = [];

  function renderStreams() {
    const rows = streams.map((s) => {
      const p = s.players;
      const buttons = playback && (playback.httpPort ?? playback.httpsPort) != null
        ? ['ws-flv', 'http-flv', 'hls'].map((t) => el('button', { type: 'button', dataset: { play: t, key: s.key } }, t))
        : ['no playback port'];
      return el('tr', { dataset: { key: s.key } },
        td(s.key), td(s.state), td(sourceText(s.source)), td(videoText(s.video)), td(s.audio?.codec ?? ''),
        td(bits(s.ingest.bitsPerSecond)), td(`${p.rtmp} / ${p['http-flv']} / ${p['ws-flv']} / ${p.hls ?? 0}`), td(duration(s.uptimeSeconds)),
        el('td', { class: 'actions' }, ...buttons));
    });
    $('streams').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 9, class: 'empty' }, 'no streams'))]));
  }

  function renderClients(page) {
    const rows = page.clients.map((c) =>
      el('tr', { dataset: { id: c.id } },
        td(c.id), td(c.protocol), td(c.role), td(c.stream ?? ''), td(c.peer), td(bytes(c.bytesIn)), td(bytes(c.bytesOut)),
        td(new Date(c.since).toLocaleTimeString()),
        el('td', { class: 'actions' }, el('button', { type: 'button', class: 'kick', dataset: { kick: c.id } }, 'kick'))));
    $('clients').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 9, class: 'empty' }, 'no clients'))]));
    $('clients-total').textContent = page.total > page.clients.length ? `(${page.clients.length} of ${page.total})` : `(${page.total})`;
  }

  function renderPlots() {
    $('latency-plot').dataset.points = String(points.length);
    window.sluicePlot.draw($('latency-plot'), points, [{ key: 'p50', color: '#1f77b4' }, { key: 'p99', color: '#ff7f0e' }], SPAN_MS);
    window.sluicePlot.draw($('players-plot'), points, [{ key: 'players', color: '#2ca02c' }], SPAN_MS);
  }

  function renderPlayerClock() {
    const video = $('player');
    if (!current) return;
    const ahead = video.buffered.length ? video.buffered.end(video.buffered.length - 1) - video.currentTime : 0;
    const error = current.error ? ` · error: ${current.error}` : '';
    const lag = current.lag?.();
    if (lag !== undefined) video.dataset.lag = lag.toFixed(3);
    const behind = lag === undefined ? '' : ` · ${lag.toFixed(2)} s behind ingest`;
    showPlayerStatus(`${current.url} · t = ${video.currentTime.toFixed(1)} s · buffer ${ahead.toFixed(2)} s${behind}${error}`);
  }

  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const [s, c, l] = await Promise.all([api('/api/v1/streams'), api('/api/v1/clients?limit=1000'), api('/api/v1/latency')]);
      streams = s.streams;
      renderStreams();
      renderClients(c);
      const lat = l.latency.ingestToEgress;
      points.push({ t: Date.now(), p50: lat.p50Ms, p99: lat.p99Ms, players: streams.reduce((n, x) => n + x.players.total, 0) });
      while (points.length && points[0].t < Date.now() - SPAN_MS) points.shift();
      renderPlots();
      $('status').textContent = `${streams.length} streams · ${c.total} clients · latency p50 ${ms(lat.p50Ms)}, p99 ${ms(lat.p99Ms)} · ${new Date().toLocaleTimeString()}`;
      $('status').classList.remove('error');
    } catch (err) {
      const hint = err.status === 401 ? ' (open this page as /?token=<admin.token>)' : '';
      $('status').textContent = `${err.message}${hint}`;
      $('status').classList.add('error');
    } finally {
      refreshing = false;
    }
  }

  // Delegated: rows are rebuilt on every refresh.
  $('streams').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-play]');
    const s = b && streams.find((x) => x.key === b.dataset.key);
    if (s) void play(s, b.dataset.play);
  });

  $('clients').addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-kick]');
    if (!b) return;
    b.disabled = true;
    try {
      await api(`/api/v1/clients/${encodeURIComponent(b.dataset.kick)}`, 'DELETE');
    } catch (err) {
      $('status').textContent = `kick ${b.dataset.kick}: ${err.message}`;
      $('status').classList.add('error');
    }
    await refresh();
  });

  $('player-close').addEventListener('click', closePlayer);

  async function start() {
    try {
      playback = (await api('/api/v1/console')).playback;
    } catch {
      // The list still works; play buttons say there is no playback port.
    }
    await refresh();
    setInterval(refresh, REFRESH_MS);
    setInterval(renderPlayerClock, 250);
  }

  void start();
})();

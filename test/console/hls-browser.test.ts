/**
 * LL-HLS in a real browser: the console's hls button (hls.js, lowLatencyMode)
 * in Debian's Chromium plays a stream ffmpeg publishes over RTMP, on the
 * default HLS settings. What it proves: the video advances, hls.js used
 * blocking reloads and parts (the server counted them), and the picture's
 * PROGRAM-DATE-TIME is the server's ingest clock (so the lag behind
 * ingest can be read). The lag is reported, not asserted as a timing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/process/single.js';
import type { StreamJson } from '../../src/control/admin-api.js';
import { makeClip, publish, type FfmpegProcess } from '../helpers/ffmpeg.js';
import { rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { closeServer } from '../helpers/servers.js';
import { sleep, waitFor, withTimeout } from '../helpers/net.js';
import { parseExposition, value } from '../helpers/prometheus.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const KEY = 'live/hlsjs';
const LOCAL = { host: '127.0.0.1', port: 0 };

let srv: RunningServer;
let publisher: FfmpegProcess | undefined;
let browser: BrowserContext | undefined;
let page: Page;
let profile: string | undefined;

const admin = (path: string): string => `http://127.0.0.1:${srv.adminPort}${path}`;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y --no-install-recommends chromium), as .ci/run does`);
  srv = await withTimeout(startServer({ rtmp: LOCAL, http: LOCAL, admin: LOCAL, log: { level: 'silent' } }, undefined, { admin: true }), 5000, 'startServer');
  const clip = await makeClip({ seconds: 40, fps: 25, gop: 25, width: 640, height: 360 });
  publisher = publish(`${rtmpUrl(srv.rtmpPort)}/hlsjs`, clip);
  await waitFor(async () => {
    const r = (await (await fetch(admin('/api/v1/streams'))).json()) as { streams: StreamJson[] };
    return r.streams.find((s) => s.key === KEY)?.video?.width === 640;
  }, 10_000, `${KEY} live`, 100);
  profile = mkdtempSync(join(tmpdir(), 'sluice-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 860 } });
  page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(admin('/'));
});

after(async () => {
  await browser?.close().catch(() => undefined);
  if (profile) rmSync(profile, { recursive: true, force: true });
  await publisher?.kill(1000);
  await closeServer(srv);
});

test('hls.js plays the LL-HLS stream: the video advances on parts and blocking reloads; its lag behind ingest is reported', { timeout: 60_000 }, async (t) => {
  await page.locator(`button[data-play="hls"][data-key="${KEY}"]`).click();
  const video = page.locator('#player');
  await waitFor(async () => Number(await video.evaluate((v: HTMLVideoElement) => v.currentTime)) > 4, 30_000, 'hls.js playing past 4 s', 200);
  const status = (await page.locator('#player-status').textContent()) ?? '';
  assert.doesNotMatch(status, /error/, status);

  const lags: number[] = [];
  for (let i = 0; i < 10; i++) {
    const lag = Number(await video.getAttribute('data-lag'));
    if (Number.isFinite(lag)) lags.push(lag);
    await sleep(300);
  }
  assert.ok(lags.length >= 5, `lag readings: ${lags.join(', ')}`);
  // PROGRAM-DATE-TIME must be the ingest clock: a wrong date reads as minutes or years, or as a picture from the future.
  for (const lag of lags) assert.ok(lag > 0 && lag < 20, `lag ${lag} s behind ingest`);
  lags.sort((a, b) => a - b);
  t.diagnostic(`hls.js live lag behind ingest (PROGRAM-DATE-TIME): median ${lags[lags.length >> 1]!.toFixed(2)} s, max ${lags[lags.length - 1]!.toFixed(2)} s`);

  const metrics = parseExposition(await (await fetch(admin('/metrics'))).text());
  assert.ok(value(metrics, 'sluice_hls_requests_total', { kind: 'blocking' })! > 0, 'hls.js asked with _HLS_msn (blocking reload)');
  assert.ok(value(metrics, 'sluice_hls_requests_total', { kind: 'part' })! > 0, 'hls.js fetched parts');
  assert.equal(value(metrics, 'sluice_hls_viewers', {}), 1, 'one viewer');
});

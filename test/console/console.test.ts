/**
 * The web console (src/control/console-route.ts, src/control/console/) in
 * a real browser: Debian's Chromium, headless, driven over CDP by
 * playwright-core (nothing downloaded). One server with an admin token,
 * one ffmpeg publisher (-re, so the stream stays live through the run),
 * one HTTP-FLV player of the test's own that the console kicks.
 *
 * SLUICE_SCREENSHOTS=1 also writes docs/img/console.png and
 * docs/img/console-playing.png (and waits for a few plot points first).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/process/single.js';
import type { ClientJson, StreamJson } from '../../src/control/admin-api.js';
import { makeClip, publish, type FfmpegProcess } from '../helpers/ffmpeg.js';
import { getFlv, type HttpFlvPlayer } from '../helpers/flv-players.js';
import { rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { closeServer } from '../helpers/servers.js';
import { waitFor, withTimeout } from '../helpers/net.js';

const CHROMIUM = '/usr/bin/chromium';
/** Headless without a GPU, sandbox (root in CI) or any traffic of the browser's own. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TOKEN = 'console-token-0123456789abcdef';
const KEY = 'live/console';
const LOCAL = { host: '127.0.0.1', port: 0 };
const SCREENSHOTS = process.env.SLUICE_SCREENSHOTS === '1';
const IMG = fileURLToPath(new URL('../../../docs/img/', import.meta.url));

let srv: RunningServer;
let publisher: FfmpegProcess | undefined;
let flvPlayer: HttpFlvPlayer | undefined;
let browser: BrowserContext | undefined;
let page: Page;
let profile: string | undefined;

const admin = (path: string): string => `http://127.0.0.1:${srv.adminPort}${path}`;

async function api<T>(path: string): Promise<{ status: number; body: T }> {
  const r = await fetch(admin(path), { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: r.status, body: (await r.json()) as T };
}

const streamOf = async (): Promise<StreamJson | undefined> => (await api<{ streams: StreamJson[] }>('/api/v1/streams')).body.streams.find((s) => s.key === KEY);
const clientsOf = async (): Promise<ClientJson[]> => (await api<{ clients: ClientJson[] }>('/api/v1/clients?limit=1000')).body.clients;

before(async () => {
  // A missing browser is a broken machine, not a reason to skip: .ci/run installs it.
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y --no-install-recommends chromium), as .ci/run does`);
  srv = await withTimeout(
    startServer({ rtmp: LOCAL, http: LOCAL, admin: { ...LOCAL, token: TOKEN }, log: { level: 'silent' } }, undefined, { admin: true }),
    5000,
    'startServer with its admin port',
  );
  const clip = await makeClip({ seconds: 40, fps: 25, gop: 25, width: 640, height: 360 });
  publisher = publish(`${rtmpUrl(srv.rtmpPort)}/console`, clip);
  await waitFor(async () => (await streamOf())?.video?.width === 640, 10_000, `${KEY} live with its metadata`, 100);
  flvPlayer = getFlv(`http://127.0.0.1:${srv.httpPort}/${KEY}.flv`);
  await withTimeout(flvPlayer.res, 5000, 'HTTP-FLV response');
  profile = mkdtempSync(join(tmpdir(), 'sluice-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 860 } });
  page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(admin(`/?token=${TOKEN}`));
});

after(async () => {
  await browser?.close().catch(() => undefined);
  if (profile) rmSync(profile, { recursive: true, force: true });
  flvPlayer?.close();
  await publisher?.kill(1000);
  await closeServer(srv);
});

test('the page and its files need the token: ?token= on a console GET, the bearer header on the API', async () => {
  for (const path of ['/', '/console/console.js', '/console/lib/mpegts.js', '/console/lib/hls.js']) {
    assert.equal((await fetch(admin(path))).status, 401, `${path} without a token`);
    assert.equal((await fetch(admin(`${path}?token=wrong-token-0123456789abcdef`))).status, 401, `${path} with a wrong token`);
    const r = await fetch(admin(`${path}?token=${TOKEN}`));
    assert.equal(r.status, 200, `${path} with ?token=`);
    assert.match(r.headers.get('content-type') ?? '', path === '/' ? /^text\/html/ : /^text\/javascript/);
  }
  assert.equal((await fetch(admin(`/api/v1/streams?token=${TOKEN}`))).status, 401, 'the API takes no token in its URL');
  const html = await (await fetch(admin(`/?token=${TOKEN}`))).text();
  assert.match(html, new RegExp(`src="console/console\\.js\\?token=${TOKEN}"`), 'the page passes the token on to its script');
  const info = await api<{ playback: { host: string | null; httpPort: number | null } }>('/api/v1/console');
  assert.deepEqual(info.body.playback, { host: '127.0.0.1', httpPort: srv.httpPort, httpsPort: null });
});

test('the stream list renders the published stream: codec, resolution, source', async () => {
  const row = page.locator(`#streams tr[data-key="${KEY}"]`);
  await row.waitFor({ timeout: 5000 });
  const text = await row.innerText();
  assert.match(text, /live\/console/);
  assert.match(text, /avc 640×360 @25 fps/);
  assert.match(text, /publisher/);
  if (SCREENSHOTS) {
    // A few refreshes, so the plots have lines.
    await page.waitForFunction(() => Number(document.getElementById('latency-plot')?.dataset.points) >= 8, undefined, { timeout: 25_000 });
    mkdirSync(IMG, { recursive: true });
    await page.screenshot({ path: join(IMG, 'console.png'), fullPage: true });
  }
});

test('play over WS-FLV (mpegts.js): the video element advances and the server counts the player', async () => {
  assert.ok(await page.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001e,mp4a.40.2"')), 'this Chromium decodes H.264 + AAC in MSE');
  await page.click(`#streams button[data-play="ws-flv"][data-key="${KEY}"]`);
  await page.waitForFunction(() => (document.getElementById('player') as HTMLVideoElement).currentTime > 1, undefined, { timeout: 10_000, polling: 100 });
  const url = await page.locator('#player').getAttribute('data-url');
  assert.equal(url, `ws://127.0.0.1:${srv.httpPort}/${KEY}.flv`);
  await waitFor(async () => (await clientsOf()).some((c) => c.protocol === 'ws-flv' && c.stream === KEY), 5000, 'a ws-flv client in the admin API');
  if (SCREENSHOTS) {
    await page.waitForFunction(() => (document.getElementById('player') as HTMLVideoElement).currentTime > 4, undefined, { timeout: 10_000 });
    await page.screenshot({ path: join(IMG, 'console-playing.png') });
  }
});

test('kick: the HTTP-FLV player leaves the list, the server and its connection', async () => {
  const target = (await clientsOf()).find((c) => c.protocol === 'http-flv' && c.stream === KEY);
  assert.ok(target, "the test's HTTP-FLV player is listed");
  const row = page.locator(`#clients tr[data-id="${target.id}"]`);
  await row.waitFor({ timeout: 5000 });
  await row.locator('button.kick').click();
  await row.waitFor({ state: 'detached', timeout: 5000 });
  assert.equal((await api(`/api/v1/clients/${target.id}`)).status, 404, 'the admin API no longer has it');
  await waitFor(() => flvPlayer!.ended, 5000, 'the kicked HTTP-FLV connection to end');
  assert.ok(await page.locator('#clients tr[data-id]').count() >= 2, "the publisher and the browser's own player stay");
});

/**
 * HTTP-FLV and WS-FLV at scale: players on both workers of a cluster get
 * the same bytes, and stalled players cost the server a bounded buffer
 * and are evicted while a healthy one keeps everything (one-server cases
 * are in http-flv.test.ts).
 *
 * Synthetic publishers put a counter in every frame
 * (test/helpers/synthetic-media.ts).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { RunningServer } from '../../src/process/single.js';
import type { RunningCluster } from '../../src/process/primary.js';
import type { FlvPlayer } from '../../src/http/flv-player.js';
import { counterOf } from '../helpers/synthetic-media.js';
import type { PublisherOptions, SyntheticPublisher } from '../helpers/synthetic-publisher.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import type { FlvCollector } from '../helpers/flv-collector.js';
import { getFlv, wsFlv } from '../helpers/flv-players.js';
import { playersPerWorker } from '../helpers/cluster-placement.js';
import { assertRunOf } from '../helpers/tag-asserts.js';
import { closeCluster, closeServer, startTestCluster, startTestServer } from '../helpers/servers.js';
import { sleep, waitFor, withTimeout } from '../helpers/net.js';

// ---- players -----------------------------------------------------------------

interface FlvClient {
  kind: 'http' | 'ws';
  flv: FlvCollector;
  /** The worker serving it (cluster case). */
  worker: number;
  close(): void;
}

/** An HTTP-FLV or (once open) WS-FLV player of `url` (http://...). */
async function flvClient(kind: FlvClient['kind'], url: string): Promise<FlvClient> {
  if (kind === 'http') {
    const h = getFlv(url);
    return { kind, flv: h.flv, worker: -1, close: h.close };
  }
  const w = wsFlv(url.replace('http:', 'ws:'));
  await withTimeout(w.opened, 3000, `WebSocket ${url}`);
  return { kind, flv: w.flv, worker: -1, close: w.close };
}

const clients: { close(): void }[] = [];
const rtmp = new RtmpClientPool();
let cluster: RunningCluster | undefined;
let srv: RunningServer | undefined;

after(async () => {
  for (const c of clients) c.close();
  rtmp.closeAll();
  await closeCluster(cluster);
  await closeServer(srv);
});

const publisher = (rtmpPort: number, name: string, opts: PublisherOptions): Promise<SyntheticPublisher> => rtmp.publisher(rtmpUrl(rtmpPort), name, opts);

// ---- cases -------------------------------------------------------------------

test('cluster: HTTP-FLV and WS-FLV players on both workers receive the same tags from their join points', { timeout: 30000 }, async (t) => {
  cluster = await startTestCluster({ media: { playWaitMs: 5000, republishGraceMs: 300 } });
  const c = cluster;
  const key = 'live/fan';
  const httpUrl = `http://127.0.0.1:${c.httpPort}/live/fan.flv`;
  const workers = c.supervisor.workerIds();
  assert.equal(workers.length, 2);

  /** Connects one player and finds its worker: the one whose count of players went up. */
  const join = async (kind: 'http' | 'ws'): Promise<FlvClient> => {
    const before = await playersPerWorker(c, key);
    const p = await flvClient(kind, httpUrl);
    clients.push(p);
    await waitFor(
      async () => {
        for (const [w, n] of await playersPerWorker(c, key)) if (n > (before.get(w) ?? 0)) p.worker = w;
        return p.worker >= 0;
      },
      3000,
      `${kind} player attached on some worker`,
    );
    return p;
  };

  /** Joins players one by one (the kernel spreads them) until each worker has both kinds. */
  const joinBoth = async (): Promise<FlvClient[]> => {
    const out: FlvClient[] = [];
    const missing = (): string[] => workers.flatMap((w) => (['http', 'ws'] as const).filter((k) => !out.some((p) => p.kind === k && p.worker === w)).map((k) => `${k}@${w}`));
    for (let i = 0; i < 32 && missing().length > 0; i++) out.push(await join(i % 2 === 0 ? 'http' : 'ws'));
    assert.deepEqual(missing(), [], `players on every worker: ${out.map((p) => `${p.kind}@${p.worker}`).join(' ')}`);
    return out;
  };

  // Early players wait for the stream (playWaitMs): all join before its first tag.
  const early = await joinBoth();
  const src = await publisher(c.rtmpPort, 'fan', { gop: 10, frameMs: 40 });
  await waitFor(() => c.directory.homeOf(key) !== undefined, 3000, `${key} live`);
  const home = c.directory.homeOf(key)!;
  await sleep(200); // the other worker hears of the publish (streamUp) before the first tag
  src.headers();
  src.start();
  await waitFor(() => src.i >= 16, 3000, 'publisher into its second GOP');
  // Late players join mid-stream: each starts at the cached keyframe of its join time.
  const late = await joinBoth();
  await waitFor(() => src.i >= 50, 5000, 'publisher at frame 50');
  src.stop();
  const last = src.i - 1;
  const all = [...early, ...late];
  await waitFor(() => all.every((p) => p.flv.has(8, last)), 5000, `frame ${last} at every player`);
  t.diagnostic(`header flags: ${all.map((p) => `${p.kind}@${p.worker}:${p.flv.bytes()[4]}`).join(' ')}`);
  t.diagnostic(`home worker ${home}; early ${early.map((p) => `${p.kind}@${p.worker}`).join(' ')}; late ${late.map((p) => `${p.kind}@${p.worker}`).join(' ')}`);

  // Early: the publisher's stream from its first tag, byte for byte the same at every player,
  // file header (flags 05: both tracks announced by onMetaData) included.
  const ref = early[0]!.flv.bytes();
  for (const p of early) {
    const what = `early ${p.kind} player on worker ${p.worker}${p.worker === home ? ' (home)' : ''}`;
    assertRunOf(p.flv.tags, src.sent, 0, what);
    assert.ok(p.flv.bytes().equals(ref), `${what}: bytes differ from early ${early[0]!.kind}@${early[0]!.worker}`);
  }
  // Late: onMetaData and sequence headers at 0, then the stream from a keyframe, timestamps relative to it.
  for (const p of late) {
    const what = `late ${p.kind} player on worker ${p.worker}${p.worker === home ? ' (home)' : ''}`;
    const [meta, vseq, aseq, key0] = p.flv.tags;
    assertRunOf([meta!, vseq!, aseq!], src.sent, 0, `${what} headers`);
    assert.equal(p.flv.bytes()[4], 0x05, `${what}: TypeFlags audio | video`);
    assert.ok(key0 && key0.type === 9 && key0.data[0] === 0x17 && key0.ts === 0, `${what}: a keyframe at 0 after the headers`);
    const from = src.sent.findIndex((s) => s.type === 9 && counterOf(s) === counterOf(key0));
    assert.ok(counterOf(key0) >= 10, `${what}: started at keyframe #${counterOf(key0)}, a later GOP than the early players`);
    assertRunOf(p.flv.tags.slice(3), src.sent, from, what);
  }
  for (const p of all) p.close();
});

test('backpressure: stalled HTTP and WS players stay bounded and are evicted; a reading player keeps every tag', { timeout: 30000 }, async (t) => {
  const HW = 64 * 1024;
  const STALL_MS = 2000;
  const VIDEO_BYTES = 80_000;
  srv = await startTestServer({ player: { writeHighWaterBytes: HW, stallTimeoutMs: STALL_MS }, media: { playWaitMs: 2000 } });
  const s = srv;
  const port = s.httpPort!;
  // 50 fps of 80 kB video: 4 MB/s.
  const src = await publisher(s.rtmpPort, 'bp', { gop: 25, frameMs: 20, videoBytes: VIDEO_BYTES, audioBytes: 400 });
  src.headers();
  src.start();
  const evicted0 = s.ctx.counters.playersEvicted;

  const newPlayer = async (protocol: FlvPlayer['protocol'], known: Set<FlvPlayer>): Promise<FlvPlayer> => {
    let found: FlvPlayer | undefined;
    await waitFor(() => (found = ([...s.ctx.flvPlayers] as FlvPlayer[]).find((p) => !known.has(p) && p.protocol === protocol)) !== undefined, 3000, `${protocol} player attached`);
    known.add(found!);
    return found!;
  };
  const known = new Set<FlvPlayer>();
  const reader = getFlv(`http://127.0.0.1:${port}/live/bp.flv`);
  clients.push(reader);
  const readerPlayer = await newPlayer('http-flv', known);

  /** A raw socket that sends `request` and never reads (Node stops reading at its high-water mark). */
  const stalled = (request: string): net.Socket => {
    const so = net.connect({ host: '127.0.0.1', port }, () => so.write(request));
    so.on('error', () => undefined);
    clients.push({ close: () => so.destroy() });
    return so;
  };
  const hs = stalled('GET /live/bp.flv HTTP/1.1\r\nHost: t\r\n\r\n');
  const hp = await newPlayer('http-flv', known);
  const hAt = Date.now();
  const wsKey = randomBytes(16).toString('base64');
  const ws = stalled(`GET /live/bp.flv HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${wsKey}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const wp = await newPlayer('ws-flv', known);
  const wAt = Date.now();

  // Watch the server's side until both are gone.
  let wsMax = 0;
  let httpCongestedAt = 0;
  let httpBufferedMax = 0;
  let httpSamples = 0;
  let hGone = 0;
  let wGone = 0;
  /** Frames the reading player was behind the publisher when the stalled players went. */
  let readerLag = -1;
  const readerBehind = (): number => src.i - 1 - Math.max(-1, ...reader.flv.tags.filter((x) => x.type === 9).map(counterOf));
  const deadline = Date.now() + STALL_MS + 6000;
  while ((!hGone || !wGone) && Date.now() < deadline) {
    const now = Date.now();
    if (!wGone) {
      if (s.ctx.flvPlayers.has(wp)) wsMax = Math.max(wsMax, wp.writableLength);
      else wGone = now;
    }
    if (!hGone) {
      if (!s.ctx.flvPlayers.has(hp)) hGone = now;
      else if (hp.writableLength >= HW) {
        httpCongestedAt ||= now;
        // Steady state: what uWS holds = written - (server send queue + client receive queue + read by Node).
        if (now - httpCongestedAt >= 300) {
          const q = await tcpQueues(port, hs.localPort!);
          // Upper bound on the wire bytes written: FLV bytes + response head + chunked framing (≤ 12 bytes x 2 writes per tag).
          const wire = hp.bytesOut + 256 + 24 * (hp.sub.tagsSent + 4);
          if (q) {
            httpSamples++;
            httpBufferedMax = Math.max(httpBufferedMax, wire - q.serverTx - q.clientRx - hs.bytesRead);
          }
        }
      }
    }
    if (hGone && wGone) readerLag = readerBehind();
    await sleep(10);
  }
  t.diagnostic(
    `WS: max buffered ${wsMax} B, evicted ${wGone - wAt} ms after connecting; HTTP: congested ${httpCongestedAt - hAt} ms after connecting, ` +
      `uWS buffer <= ${httpBufferedMax} B, evicted ${hGone - hAt} ms after connecting (${hp.bytesOut} B handed over); reading player ${readerLag} frames behind then`,
  );
  const bound = HW + VIDEO_BYTES + 15 + 1024; // below high water, plus one tag's overshoot, plus framing
  assert.ok(wGone && hGone, `both stalled players evicted (ws ${!!wGone}, http ${!!hGone})`);
  assert.ok(wsMax > 0, 'the stalled WebSocket backed up');
  assert.ok(wsMax <= bound, `WS buffered amount reached ${wsMax} B, bound ${bound} B`);
  assert.ok(httpCongestedAt > 0, 'the stalled HTTP response backed up');
  assert.ok(httpSamples > 0, 'the HTTP sockets were found in /proc/net/tcp');
  assert.ok(httpBufferedMax <= bound, `HTTP response buffer reached ~${httpBufferedMax} B, bound ${bound} B`);
  for (const [what, gone, at] of [['WS', wGone, wAt], ['HTTP', hGone, hAt]] as const) {
    assert.ok(gone - at >= STALL_MS && gone - at <= STALL_MS + 4000, `${what} evicted ${gone - at} ms after connecting (stall timeout ${STALL_MS} ms)`);
  }
  assert.equal(s.ctx.counters.playersEvicted - evicted0, 2);
  assert.ok(readerLag >= 0 && readerLag <= 10, `the reading player kept up meanwhile (${readerLag} frames behind at the evictions)`);
  assert.ok((s.ctx.counters.sessionErrors.ERR_SLOW_CONSUMER ?? 0) >= 2);

  // The evicted connections are really closed: once read again, they end.
  for (const [what, so] of [['HTTP', hs], ['WS', ws]] as const) {
    const closed = new Promise<void>((resolve) => so.once('close', () => resolve()));
    so.resume();
    await withTimeout(closed, 5000, `evicted ${what} connection to close`);
  }

  // Meanwhile the reading player got every tag, in order, nothing dropped.
  src.stop();
  src.videoBytes = 64;
  src.frame();
  src.frame();
  const last = src.i - 1;
  await waitFor(() => reader.flv.has(8, last), 5000, `frame ${last} at the reading player`);
  assert.equal((await reader.res).statusCode, 200);
  assert.equal(readerPlayer.sub.tagsDropped, 0);
  const tags = reader.flv.tags;
  assert.deepEqual(tags.slice(0, 3).map((x) => x.type), [18, 9, 8]);
  const from = src.sent.findIndex((x) => x.type === 9 && counterOf(x) === counterOf(tags[3]!));
  assertRunOf(tags.slice(3), src.sent, from, 'reading player');
  assert.equal(from + tags.length - 3, src.sent.length, 'the reading player got up to the last tag');
  t.diagnostic(`reading player: frames #${counterOf(tags[3]!)}..#${last}, ${reader.flv.bytes().length} B`);
  reader.close();
});

/** tx_queue of the server's socket and rx_queue of the client's, from /proc/net/tcp (hex "tx:rx" in field 4). */
async function tcpQueues(serverPort: number, clientPort: number): Promise<{ serverTx: number; clientRx: number } | undefined> {
  const text = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
  const hexPort = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');
  let serverTx: number | undefined;
  let clientRx: number | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const [tx, rx] = (f[4] ?? '').split(':').map((h) => parseInt(h, 16));
    if (f[1]?.endsWith(`:${hexPort(serverPort)}`) && f[2]?.endsWith(`:${hexPort(clientPort)}`)) serverTx = tx;
    if (f[1]?.endsWith(`:${hexPort(clientPort)}`) && f[2]?.endsWith(`:${hexPort(serverPort)}`)) clientRx = rx;
  }
  return serverTx === undefined || clientRx === undefined ? undefined : { serverTx, clientRx };
}

test(
  'a batch cut at writeHighWaterBytes is finished without waiting for the next tag (HTTP-FLV and WS-FLV)',
  { timeout: 20000 },
  async () => {
    const s2 = await startTestServer({ player: { writeHighWaterBytes: 64 * 1024 }, media: { playWaitMs: 2000 } });
    try {
      const url = `http://127.0.0.1:${s2.httpPort}/live/burst.flv`;
      const h = getFlv(url);
      const w = wsFlv(url.replace('http:', 'ws:'));
      await withTimeout(w.opened, 3000, `WebSocket ${url}`);
      clients.push(h, w);
      await waitFor(() => s2.ctx.flvPlayers.size === 2, 2000, 'both players attached');
      // One burst, then silence: the sequence headers and five 100 kB frames (each over high water).
      const src = await publisher(s2.rtmpPort, 'burst', { gop: 5, frameMs: 40, videoBytes: 100_000 });
      src.headers();
      for (let i = 0; i < 5; i++) src.frame();
      await waitFor(() => h.flv.has(8, 4) && w.flv.has(8, 4), 2000, 'every tag of the burst at both players').catch((err: Error) => {
        throw new Error(`${err.message}: HTTP has ${h.flv.tags.length}, WS ${w.flv.tags.length} of ${src.sent.length} tags`);
      });
    } finally {
      await closeServer(s2);
    }
  },
);

// A stream the edge cannot get: RTMP players hear NetStream.Play.StreamNotFound
// and HTTP-FLV players get 404, as from a standalone server's awaited name,
// after edge.playWaitMs (not at once: the origins get that long) and well
// within a bound. The same whether the origin answers "no such stream" or
// cannot be reached at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { freePort, waitFor } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import { getFlv, type HttpFlvPlayer } from '../helpers/flv-players.js';
import { RtmpStatusError } from '../../src/rtmp/client/rtmp-client.js';
import type { RunningServer } from '../../src/process/single.js';

const PLAY_WAIT_MS = 500;
/** Not at once: the edge waited for its origins. */
const AT_LEAST_MS = 300;
/** Generous: a loaded machine. */
const WITHIN_MS = 4000;
const NOT_FOUND = 'NetStream.Play.StreamNotFound';

const inBounds = (ms: number, what: string): void => {
  assert.ok(ms >= AT_LEAST_MS, `${what}: answered after ${ms} ms, before edge.playWaitMs (${PLAY_WAIT_MS} ms) could have run`);
  assert.ok(ms < WITHIN_MS, `${what}: answered after ${ms} ms (edge.playWaitMs ${PLAY_WAIT_MS})`);
};

/** RTMP play of `name` at the edge: StreamNotFound, when, and that nothing else came. */
async function rtmpNotFound(pool: RtmpClientPool, edge: RunningServer, name: string): Promise<void> {
  const c = await pool.connect(rtmpUrl(edge.rtmpPort));
  const rec = new Recorder(c);
  const t0 = Date.now();
  // An awaited name may be answered Play.Start first (as a standalone server does), then StreamNotFound;
  // or play is refused at once with the status: either way the status is StreamNotFound.
  let refused: unknown;
  await c.play(name).catch((err: unknown) => (refused = err));
  if (refused !== undefined) {
    assert.ok(refused instanceof RtmpStatusError, `play rejected with ${String(refused)}`);
    assert.equal(refused.status.code, NOT_FOUND);
  }
  await rec.status(NOT_FOUND, WITHIN_MS + 1000);
  inBounds(rec.statusEntry(NOT_FOUND)!.at - t0, `rtmp play ${name}`);
  assert.equal(rec.statusIndex('NetStream.Play.Stop'), -1, 'StreamNotFound, not Play.Stop');
  assert.equal(rec.media().filter((e) => e.kind !== 'data').length, 0, 'no media');
  await waitFor(() => rec.closed, 3000, 'the edge closes the connection after StreamNotFound');
}

/** HTTP-FLV GET of `name` at the edge: 404, and when. */
async function httpNotFound(edge: RunningServer, name: string, track: (p: HttpFlvPlayer) => void): Promise<void> {
  const t0 = Date.now();
  const p = getFlv(`http://127.0.0.1:${edge.httpPort}/live/${name}.flv`);
  track(p);
  const res = await p.res;
  inBounds(Date.now() - t0, `http-flv GET ${name}`);
  assert.equal(res.statusCode, 404);
  assert.equal(p.flv.tags.length, 0, 'no FLV');
}

test('an origin without the stream: StreamNotFound and 404 after edge.playWaitMs', { timeout: 15000 }, async () => {
  let origin: RunningServer | undefined;
  let edge: RunningServer | undefined;
  const pool = new RtmpClientPool();
  const flvs: HttpFlvPlayer[] = [];
  try {
    // The origin's own default: its players of a missing name wait (media.playWaitMs 5000).
    origin = await startTestServer();
    edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`], playWaitMs: PLAY_WAIT_MS } });
    // Both at once, as independent players would.
    await Promise.all([rtmpNotFound(pool, edge, 'nothing'), httpNotFound(edge, 'nothing-flv', (p) => flvs.push(p))]);
    assert.equal(edge.directory.list().length, 0, 'the edge awaits nothing any more');
    // The origin would hold the edge's plays for its own 5 s: the edge gives them up at its wait's end.
    await waitFor(() => edge!.ctx.upstreams!.list().length === 0, 3000, 'no upstream left at the edge');
    const o = origin;
    await waitFor(() => [...o.ctx.sessions.values()].every((x) => x.info().role !== 'player'), 3000, 'no play left at the origin');
  } finally {
    for (const f of flvs) f.close();
    pool.closeAll();
    await closeServer(edge);
    await closeServer(origin);
  }
});

test('an origin that answers StreamNotFound at once: the edge still waits edge.playWaitMs, then StreamNotFound and 404', { timeout: 15000 }, async () => {
  let origin: RunningServer | undefined;
  let edge: RunningServer | undefined;
  const pool = new RtmpClientPool();
  const flvs: HttpFlvPlayer[] = [];
  try {
    origin = await startTestServer({ media: { playWaitMs: 0 } });
    edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`], playWaitMs: PLAY_WAIT_MS } });
    await Promise.all([rtmpNotFound(pool, edge, 'nothing'), httpNotFound(edge, 'nothing-flv', (p) => flvs.push(p))]);
    assert.equal(edge.directory.list().length, 0, 'the edge awaits nothing any more');
    await waitFor(() => edge!.ctx.upstreams!.list().length === 0, 3000, 'no upstream left at the edge');
  } finally {
    for (const f of flvs) f.close();
    pool.closeAll();
    await closeServer(edge);
    await closeServer(origin);
  }
});

test('an unreachable origin: StreamNotFound and 404 after edge.playWaitMs', { timeout: 15000 }, async () => {
  let edge: RunningServer | undefined;
  const pool = new RtmpClientPool();
  const flvs: HttpFlvPlayer[] = [];
  try {
    // A port nobody listens on: every connect is refused.
    const dead = await freePort();
    edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${dead}`], playWaitMs: PLAY_WAIT_MS } });
    await Promise.all([rtmpNotFound(pool, edge, 'nothing'), httpNotFound(edge, 'nothing-flv', (p) => flvs.push(p))]);
    assert.equal(edge.directory.list().length, 0, 'the edge awaits nothing any more');
    await waitFor(() => edge!.ctx.upstreams!.list().length === 0, 3000, 'no upstream left at the edge');
    assert.equal(edge.ctx.upstreams!.totals().bytesIn, 0, 'nothing came from the dead origin');
  } finally {
    for (const f of flvs) f.close();
    pool.closeAll();
    await closeServer(edge);
  }
});

test('the only waiting player leaves: the edge stops trying the origin at once', { timeout: 15000 }, async () => {
  let origin: RunningServer | undefined;
  let edge: RunningServer | undefined;
  const pool = new RtmpClientPool();
  try {
    origin = await startTestServer();
    const o = origin;
    edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`], playWaitMs: 10000 } });
    const e = edge;
    const c = await pool.connect(rtmpUrl(edge.rtmpPort));
    await c.play('later').catch(() => undefined);
    await waitFor(() => [...o.ctx.sessions.values()].some((x) => x.info().role === 'player'), 3000, 'the edge asks the origin');
    c.destroy();
    // Long before edge.playWaitMs (10 s): nobody waits, so nothing is pulled.
    await waitFor(() => e.ctx.upstreams!.list().length === 0 && e.directory.list().length === 0, 3000, 'the edge gave up the pull');
    await waitFor(() => [...o.ctx.sessions.values()].every((x) => x.info().role !== 'player'), 3000, 'no play left at the origin');
  } finally {
    pool.closeAll();
    await closeServer(edge);
    await closeServer(origin);
  }
});

/**
 * The worker-thread cluster under stress, with synthetic publishers: a
 * publish race spread over both workers, a worker crash, publish/unpublish
 * churn, and a stalled player on the worker that reads another's ring.
 * One two-worker cluster per case (its own config), closed however the
 * case ends.
 *
 * Every frame carries a counter (test/helpers/synthetic-media.ts) so gaps
 * and byte identity show. Which worker a client landed on comes from the
 * workers' snapshots (test/helpers/cluster-placement.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningCluster } from '../../src/process/primary.js';
import type { ConfigInput } from '../../src/app/config.js';
import { RtmpStatusError, type RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import type { PublisherOptions, SyntheticPublisher } from '../helpers/synthetic-publisher.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder, type MediaEntry } from '../helpers/rtmp-recorder.js';
import { assertMonotonicPerTrack } from '../helpers/tag-asserts.js';
import { connectOnWorker, workersOf } from '../helpers/cluster-placement.js';
import { closeCluster, startTestCluster } from '../helpers/servers.js';
import { waitFor } from '../helpers/net.js';

/** Video counters with no gap: each frame is the one after the previous. */
function assertContiguous(video: MediaEntry[], what: string): void {
  assert.ok(video.length > 0, `${what}: no video`);
  for (let i = 1; i < video.length; i++) {
    assert.equal(video[i]!.n, video[i - 1]!.n + 1, `${what}: frame ${video[i - 1]!.n} is followed by ${video[i]!.n}`);
  }
}

// ---- one cluster per case -----------------------------------------------------

interface Harness {
  cluster: RunningCluster;
  connect(): Promise<RtmpClient>;
  /** Connects until a client lands on a worker `want` accepts; the others are closed. */
  connectWhere(want: (worker: number) => boolean, what: string): Promise<{ c: RtmpClient; worker: number }>;
  /** Worker of each client's session, by its local port (-1: no session). */
  workersOf(clients: RtmpClient[]): Promise<number[]>;
  source(c: RtmpClient, o?: PublisherOptions): SyntheticPublisher;
}

async function withCluster(cfg: ConfigInput, fn: (h: Harness) => Promise<void>): Promise<void> {
  const cluster = await startTestCluster({ rtmp: { publishNotify: true }, ...cfg, cluster: { workers: 2, crashHook: true } });
  const pool = new RtmpClientPool();
  const url = rtmpUrl(cluster.rtmpPort);
  const h: Harness = {
    cluster,
    connect: () => pool.connect(url),
    workersOf: (cs) => workersOf(cluster, cs),
    async connectWhere(want, what) {
      const found = await connectOnWorker(cluster, h.connect, want, 30);
      if (!found) throw new Error(`no connection landed on ${what} in 30 tries`);
      return found;
    },
    source: (c, o) => pool.source(c, o),
  };
  try {
    await fn(h);
  } finally {
    pool.closeAll();
    await closeCluster(cluster);
  }
}

// ---- cases --------------------------------------------------------------------

test('publish race: 8 clients on both workers publish one name at once; exactly one gets Publish.Start, the rest BadName, and the winner is playable', { timeout: 20000 }, async () => {
  await withCluster({}, async (h) => {
    // Eight connections, at least three on each worker.
    const chosen: RtmpClient[] = [];
    const per = new Map<number, number>();
    for (let i = 0; i < 40 && chosen.length < 8; i++) {
      const c = await h.connect();
      await c.createStream();
      const [w] = await h.workersOf([c]);
      if ((per.get(w!) ?? 0) >= 5) {
        c.destroy();
        continue;
      }
      per.set(w!, (per.get(w!) ?? 0) + 1);
      chosen.push(c);
    }
    assert.equal(chosen.length, 8);
    const workers = await h.workersOf(chosen);
    assert.deepEqual(new Set(workers), new Set(h.cluster.supervisor.workerIds()), `publishers on both workers (${workers.join(',')})`);

    const results = await Promise.allSettled(chosen.map((c) => c.publish('race')));
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    assert.equal(won.length, 1, `exactly one Publish.Start (got ${won.length})`);
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') continue;
      assert.ok(r.reason instanceof RtmpStatusError, `client ${i}: ${String(r.reason)}`);
      assert.equal(r.reason.status.code, 'NetStream.Publish.BadName', `client ${i} on worker ${workers[i]}`);
    }
    const winner = chosen[won[0]!]!;
    const home = workers[won[0]!]!;
    assert.equal(h.cluster.directory.homeOf('live/race'), home, 'the winner\'s worker is home');
    // Refused connections are closed; the winner is untouched.
    await waitFor(() => chosen.every((c, i) => i === won[0] || c.isClosed), 2000, 'refused publishers closed');
    assert.ok(!winner.isClosed);

    // The winner keeps publishing; a player on the other worker gets its frames.
    const src = h.source(winner);
    src.headers();
    src.start();
    const { c: pc } = await h.connectWhere((w) => w !== home, 'the non-home worker');
    const p = new Recorder(pc);
    await pc.play('race');
    await waitFor(() => p.video().length >= 15, 3000, 'player gets 15 frames of the winner');
    assertContiguous(p.video(), 'player');
    assert.equal(p.video()[0]!.kind, 'key');
    for (const v of p.video()) assert.ok(v.data.equals(src.videoData(v.n)!), `frame ${v.n} byte-identical`);
    const snap = (await h.cluster.snapshots()).find((s) => s.worker === home)!;
    assert.equal(snap.counters.publishesTotal, 1, 'one publish accepted on the home worker');
  });
});

test('a player waiting on one worker for a name gets its media when the publisher arrives on the other worker', { timeout: 15000 }, async () => {
  await withCluster({ media: { playWaitMs: 5000 } }, async (h) => {
    const { c: pc, worker: W } = await h.connectWhere(() => true, 'any worker');
    const p = new Recorder(pc);
    await pc.play('early');
    assert.equal(h.cluster.directory.list().find((e) => e.key === 'live/early')?.state, 'waiting');
    const { c: pub } = await h.connectWhere((w) => w !== W, 'the other worker');
    await pub.publish('early');
    const src = h.source(pub);
    src.headers();
    src.start();
    await waitFor(() => p.video().length >= 10, 3000, 'the waiting player gets 10 frames from the other worker');
    assert.ok(p.statusEntry('NetStream.Play.PublishNotify'), 'PublishNotify');
    assert.deepEqual(p.media().filter((m) => m.type !== 18).slice(0, 3).map((m) => m.kind), ['vseq', 'aseq', 'key']);
    assertContiguous(p.video(), 'waiting player');
    assert.equal(p.video()[0]!.n, 0, 'from the first frame');
  });
});

test('worker crash: replaced within 1 s; its clients are cut; the other worker\'s players of a surviving stream see no gap, of the lost one get Unpublish/PublishNotify and resume with monotonic timestamps', { timeout: 30000 }, async () => {
  await withCluster({ media: { republishGraceMs: 5000 } }, async (h) => {
    const sup = h.cluster.supervisor;
    const { c: pubA, worker: X } = await h.connectWhere(() => true, 'any worker');
    const { c: pubB, worker: Y } = await h.connectWhere((w) => w !== X, 'the other worker');
    await pubA.publish('a');
    await pubB.publish('b');
    const srcA = h.source(pubA, { counterBase: 0 });
    const srcB = h.source(pubB, { counterBase: 50000 });
    srcA.headers();
    srcB.headers();
    srcA.start();
    srcB.start();

    // Players of both streams on both workers; two of stream a on Y.
    const need = new Map<string, number>([[`a@${X}`, 1], [`b@${X}`, 1], [`a@${Y}`, 2], [`b@${Y}`, 1]]);
    const players: { p: Recorder; stream: string; worker: number }[] = [];
    for (let i = 0; i < 40 && [...need.values()].some((n) => n > 0); i++) {
      const c = await h.connect();
      const [w] = await h.workersOf([c]);
      const slot = [...need.entries()].find(([k, n]) => n > 0 && k.endsWith(`@${w}`));
      if (!slot) {
        c.destroy();
        continue;
      }
      need.set(slot[0], slot[1] - 1);
      const stream = slot[0][0]!;
      const p = new Recorder(c);
      await c.play(stream);
      players.push({ p, stream, worker: w! });
    }
    assert.ok([...need.values()].every((n) => n === 0), `players placed on both workers (${JSON.stringify([...need])})`);
    await waitFor(() => players.every(({ p }) => p.video().length >= 10), 3000, 'every player receiving');

    const restarts = sup.restarts;
    const t0 = Date.now();
    sup.crash(X, 'crash drill');
    await waitFor(() => sup.restarts === restarts + 1 && !sup.workerIds().includes(X) && sup.workerIds().length === 2 && h.cluster.ready(), 1000, 'worker replaced and ready');
    const replacedMs = Date.now() - t0;
    const X2 = sup.workerIds().find((w) => w !== Y)!;
    assert.ok(X2 > X && X2 !== Y, `new worker id ${X2}`);

    // Everything that was on X is cut: its players and publisher a.
    const onX = players.filter((e) => e.worker === X);
    await waitFor(() => onX.every(({ p }) => p.closed) && pubA.isClosed, 3000, 'connections on the crashed worker closed');
    const aOnY = players.filter((e) => e.worker === Y && e.stream === 'a');
    const bOnY = players.filter((e) => e.worker === Y && e.stream === 'b');
    await waitFor(() => aOnY.every(({ p }) => p.statusEntry('NetStream.Play.UnpublishNotify')), 3000, 'UnpublishNotify on Y for stream a');
    assert.equal(h.cluster.directory.list().find((e) => e.key === 'live/a')?.state, 'grace');

    // Publisher a comes back within the grace period, on the replacement worker: Y's view then reads a new home.
    const { c: pubA2 } = await h.connectWhere((w) => w === X2, 'the replacement worker');
    await pubA2.publish('a');
    assert.equal(h.cluster.directory.homeOf('live/a'), X2);
    const srcA2 = h.source(pubA2, { counterBase: 100000 });
    srcA2.headers();
    srcA2.start();
    await waitFor(() => aOnY.every(({ p }) => p.video().filter((v) => v.n >= 100000).length >= 10), 4000, 'players on Y get the republished a');
    // Stream b went on through all of it: a second of frames after the crash, none missing.
    await waitFor(() => bOnY.every(({ p }) => (p.video().at(-1)?.at ?? 0) > t0 + 1000), 3000, 'b players a second past the crash');

    for (const { p } of bOnY) {
      assert.ok(!p.closed && !p.statusEntry('NetStream.Play.UnpublishNotify'), 'b on Y: untouched');
      assertContiguous(p.video(), 'b on Y across the crash');
      assertMonotonicPerTrack(p.media(), 'b on Y', [8, 9]);
    }
    for (const { p } of aOnY) {
      const down = p.statusEntry('NetStream.Play.UnpublishNotify')!;
      const up = p.statusEntry('NetStream.Play.PublishNotify');
      assert.ok(up && up.at >= down.at, 'a on Y: PublishNotify after UnpublishNotify');
      const before = p.video().filter((v) => v.n < 100000);
      const after = p.video().filter((v) => v.n >= 100000);
      assertContiguous(before, 'a on Y before the crash');
      assertContiguous(after, 'a on Y after the republish');
      assert.equal(after[0]!.n, 100000, 'a on Y: the republish from its first frame');
      assertMonotonicPerTrack(p.media(), 'a on Y across crash and republish', [8, 9]);
      assert.ok(after[0]!.ts >= before.at(-1)!.ts, `a on Y: republished frames at ts ${after[0]!.ts} follow ${before.at(-1)!.ts}`);
    }
    const snaps = await h.cluster.snapshots();
    assert.deepEqual(snaps.map((s) => s.worker).sort(), [X2, Y].sort(), 'snapshots from the two live workers');
    if (process.env.SLUICE_TEST_VERBOSE) console.log(`replaced in ${replacedMs} ms`);
  });
});

test('200 publish/unpublish cycles (a player on every 4th) leave the slab pool and the directory where they started', { timeout: 30000 }, async () => {
  await withCluster({}, async (h) => {
    const { pool, directory } = h.cluster;
    const base = pool.stats();
    assert.deepEqual(directory.stats(), { streams: 0, live: 0, releasing: 0 });
    const LANES = 4;
    const CYCLES = 200;
    let crossWorker = 0;
    const cycle = async (i: number): Promise<void> => {
      const name = `churn${i}`;
      const pub = await h.connect();
      await pub.publish(name);
      const src = h.source(pub, { counterBase: i * 1000 });
      src.headers();
      src.frame();
      src.frame();
      src.frame();
      if (i % 4 === 0) {
        const pc = await h.connect();
        const p = new Recorder(pc);
        await pc.play(name);
        // Three frames are in the ring: a late player gets them from the cached keyframe.
        await waitFor(() => p.video().length >= 3, 2000, `${name}: player got the cached GOP`);
        const [pw, ww] = await h.workersOf([pub, pc]);
        if (pw !== ww) crossWorker++;
        // Either side may leave first.
        if (i % 8 === 0) await pc.close().then(() => pub.close());
        else await pub.close().then(() => pc.close());
      } else {
        await pub.close();
      }
    };
    const lane = async (l: number): Promise<void> => {
      for (let i = l; i < CYCLES; i += LANES) await cycle(i);
    };
    await Promise.all(Array.from({ length: LANES }, (_, l) => lane(l)));

    await waitFor(
      () => pool.stats().inUse === base.inUse && directory.stats().streams === 0 && directory.stats().releasing === 0,
      5000,
      'slabs and directory entries released',
    ).catch(() => undefined);
    assert.deepEqual(directory.stats(), { streams: 0, live: 0, releasing: 0 }, `directory: ${JSON.stringify(directory.list().slice(0, 3))}`);
    const after = pool.stats();
    assert.equal(after.inUse, base.inUse, 'slabs in use back to the start');
    assert.ok(after.total <= base.inUse + pool.keepFree, `slabs owned bounded (${after.total})`);
    const snaps = await h.cluster.snapshots();
    for (const s of snaps) {
      assert.deepEqual(s.streams, [], `worker ${s.worker} holds no stream views`);
      assert.ok(s.counters.publishesTotal > 0, `worker ${s.worker} took publishers (${snaps.map((x) => x.counters.publishesTotal).join('/')})`);
    }
    assert.equal(snaps.reduce((n, s) => n + s.counters.publishesTotal, 0), CYCLES);
    assert.ok(crossWorker > 0, 'some players read a ring from the other worker');
  });
});

test('a stalled player on the non-home worker is evicted while another player there keeps every frame', { timeout: 30000 }, async () => {
  const player = { writeHighWaterBytes: 64 * 1024, queueMaxBytes: 2 * 1024 * 1024, queueMaxMs: 3000, stallTimeoutMs: 500 };
  await withCluster({ player }, async (h) => {
    const pub = await h.connect();
    await pub.publish('big');
    const home = h.cluster.directory.homeOf('live/big')!;
    // ~2.6 MB/s: a stalled socket's kernel buffers (~5 MB on loopback) fill within two seconds.
    const src = h.source(pub, { videoBytes: 64 * 1024, frameMs: 25, gop: 20 });
    src.headers();
    src.start();
    const { c: slowC, worker: R } = await h.connectWhere((w) => w !== home, 'the non-home worker');
    const { c: goodC } = await h.connectWhere((w) => w === R, 'the same worker');
    const slow = new Recorder(slowC);
    const good = new Recorder(goodC);
    await slowC.play('big');
    await goodC.play('big');
    await waitFor(() => slow.video().length >= 5, 2000, 'slow player receiving');
    slowC.pauseReading();
    const t0 = Date.now();
    const evictions = async (): Promise<number> => (await h.cluster.snapshots()).find((s) => s.worker === R)?.counters.playersEvicted ?? -1;
    await waitFor(async () => (await evictions()) > 0, 10000, 'the stalled player evicted', 100);
    const evictedMs = Date.now() - t0;
    // A paused socket cannot see the reset; once it reads again it finds the connection gone.
    slowC.resumeReading();
    await waitFor(() => slow.closed, 3000, 'the evicted player\'s connection closed');
    const mark = src.i;
    await waitFor(() => good.video().filter((v) => v.n >= mark).length >= 10, 3000, 'the good player goes on');
    assert.ok(!good.closed);
    assertContiguous(good.video(), 'good player');
    assert.equal(good.video()[0]!.kind, 'key');
    for (const v of good.video()) assert.ok(v.data.equals(src.videoData(v.n)!), `frame ${v.n} byte-identical`);
    const snap = (await h.cluster.snapshots()).find((s) => s.worker === R)!;
    assert.equal(snap.counters.playersEvicted, 1, `one eviction on worker ${R}`);
    assert.equal(snap.counters.sessionErrors.ERR_SLOW_CONSUMER, 1);
    assert.equal(snap.sessions.filter((s) => s.role === 'player').length, 1, 'only the good player is left there');
    if (process.env.SLUICE_TEST_VERBOSE) console.log(`evicted ${evictedMs} ms after it stopped reading`);
  });
});

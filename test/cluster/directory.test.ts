import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlabPool } from '../../src/core/slab-pool.js';
import { StreamDirectory } from '../../src/cluster/directory.js';
import type { DirectoryEvent, SubscribeGrant } from '../../src/cluster/messages.js';

/** A subscribe the directory granted (not refused, not "no such stream"). */
function granted(g: SubscribeGrant | undefined): Extract<SubscribeGrant, { ok: true }> {
  assert.ok(g?.ok, `expected a grant, got ${JSON.stringify(g)}`);
  return g;
}

function setup(opts: Partial<{ republishGraceMs: number; playWaitMs: number; maxStreams: number; maxPublishesPerIp: number }> = {}) {
  const pool = new SlabPool(512 * 1024, 8);
  const events: { w: number; e: DirectoryEvent }[] = [];
  const dir = new StreamDirectory(pool, { maxStreams: 8, republishGraceMs: 50, playWaitMs: 50, ...opts }, (w, e) => {
    events.push({ w, e });
    if ('port' in e && e.port) e.port.close();
  });
  return { pool, dir, events, kinds: () => events.map(({ w, e }) => `${w}:${e.t}`) };
}

test('one publisher per name; the directory is the authority across workers', () => {
  const { dir } = setup();
  const a = dir.publish('live/x', 1);
  const b = dir.publish('live/x', 2);
  assert.ok(a.ok);
  assert.deepEqual(b, { ok: false, code: 'ERR_STREAM', reason: 'live/x is already being published' });
  assert.equal(dir.homeOf('live/x'), 1);
});

test('a reader on another worker gets the slab and a port to the home worker', () => {
  const { dir, kinds } = setup();
  const p = dir.publish('live/x', 1);
  const g = granted(dir.subscribe('live/x', 2));
  assert.ok(p.ok && g.sab === p.sab, 'same slab');
  assert.equal(g.live, true);
  assert.ok(g.port, 'reader gets a port');
  g.port!.close();
  assert.deepEqual(kinds(), ['1:attachReader']);
});

test('publisher leaves: readers told, grace, republish on another worker resumes the same slab', async () => {
  const { dir, kinds, events } = setup();
  const p = dir.publish('live/x', 1);
  granted(dir.subscribe('live/x', 2)).port!.close();
  dir.unpublish(p.ok ? p.id : 0, 1);
  const q = dir.publish('live/x', 3);
  assert.ok(p.ok && q.ok && q.sab === p.sab && q.id === p.id, 'same entry and slab');
  assert.deepEqual(kinds(), ['1:attachReader', '2:streamDown', '3:attachReader', '1:streamUp', '3:attachReader', '2:streamUp']);
  assert.equal(events.at(-1)!.e.t, 'streamUp');
});

test('grace expiry ends the stream; the slab is freed when every holder let go', async () => {
  const { dir, pool, kinds } = setup();
  const p = dir.publish('live/x', 1);
  assert.ok(p.ok);
  granted(dir.subscribe('live/x', 2)).port!.close();
  dir.unpublish(p.id, 1);
  await new Promise((r) => setTimeout(r, 80));
  assert.ok(kinds().includes('2:streamEnd') && kinds().includes('1:streamEnd'));
  assert.deepEqual(dir.stats(), { streams: 0, live: 0, releasing: 1 });
  assert.equal(pool.stats().inUse, 1, 'slab held until acknowledged');
  dir.release(p.id, 1);
  dir.release(p.id, 2);
  assert.deepEqual(dir.stats(), { streams: 0, live: 0, releasing: 0 });
  assert.equal(pool.stats().inUse, 0);
});

test('a player may wait for a publisher; nobody comes: stream not found', async () => {
  const { dir, kinds } = setup();
  const g = granted(dir.subscribe('live/later', 2));
  assert.equal(g.live, false);
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(kinds(), ['2:streamEnd']);
  assert.equal(dir.subscribe('live/none', 2) === undefined, false, 'waits again (playWaitMs > 0)');
  const { dir: d0 } = setup({ playWaitMs: 0 });
  assert.equal(d0.subscribe('live/none', 2), undefined);
});

test('a waiting reader is linked when the publisher arrives', () => {
  const { dir, kinds } = setup();
  dir.subscribe('live/x', 2);
  dir.publish('live/x', 1);
  assert.deepEqual(kinds(), ['1:attachReader', '2:streamUp']);
});

test('a dead worker: its streams go to grace, its holds are dropped', () => {
  const { dir, kinds, pool } = setup();
  const a = dir.publish('live/a', 1);
  const b = dir.publish('live/b', 2);
  granted(dir.subscribe('live/a', 2)).port!.close();
  granted(dir.subscribe('live/b', 1)).port!.close();
  dir.workerGone(1);
  assert.ok(a.ok && b.ok);
  assert.ok(kinds().includes('2:streamDown'), 'reader of a told');
  assert.equal(dir.homeOf('live/b'), 2, 'b unaffected');
  assert.equal(dir.list().find((e) => e.key === 'live/a')!.state, 'grace');
  assert.deepEqual(dir.list().find((e) => e.key === 'live/b')!.readers, [], 'dead reader dropped');
  assert.equal(pool.stats().inUse, 2);
});

test('200 publish/unpublish cycles leave the pool and directory where they started', () => {
  const { dir, pool } = setup({ republishGraceMs: 0 });
  const before = pool.stats();
  for (let i = 0; i < 200; i++) {
    const w = 1 + (i % 2);
    const p = dir.publish(`live/s${i % 3}`, w);
    assert.ok(p.ok);
    if (i % 4 === 0) {
      const r = 3 - w;
      granted(dir.subscribe(`live/s${i % 3}`, r)).port!.close();
      dir.unpublish(p.id, w);
      dir.release(p.id, w);
      dir.release(p.id, r);
    } else {
      dir.unpublish(p.id, w);
      dir.release(p.id, w);
    }
  }
  assert.deepEqual(dir.stats(), { streams: 0, live: 0, releasing: 0 });
  assert.equal(pool.stats().inUse, 0);
  assert.ok(pool.stats().total <= before.total + 2, `pool grew to ${pool.stats().total}`);
});

test('awaited names take no slab; past maxStreams of them a wait is refused with a code, and publishes still find room', () => {
  const { dir, pool } = setup({ maxStreams: 8, playWaitMs: 10_000 });
  for (let i = 0; i < 8; i++) assert.equal(granted(dir.subscribe(`live/rand${i}`, 1 + (i % 2))).sab, undefined);
  assert.equal(pool.stats().inUse, 0, 'waiting players hold no slab');
  const over = dir.subscribe('live/rand-over', 1);
  assert.deepEqual(over && !over.ok && over.code, 'ERR_LIMIT');
  for (let i = 0; i < 8; i++) assert.ok(dir.publish(`live/pub${i}`, 1).ok, `publish ${i} while 8 names are awaited`);
  const full = dir.publish('live/pub-over', 1);
  assert.ok(!full.ok && full.code === 'ERR_LIMIT' && /media\.maxStreams = 8/.test(full.reason), JSON.stringify(full));
  dir.closeAll('test over');
});

test('slabs of ended streams still held by workers count: a publish past them is refused, not thrown, and succeeds once they are let go', () => {
  const { dir, pool } = setup({ maxStreams: 8, republishGraceMs: 0 });
  const ids: number[] = [];
  for (let i = 0; i < 8; i++) {
    const p = dir.publish(`live/s${i}`, 1);
    assert.ok(p.ok);
    ids.push(p.id);
    granted(dir.subscribe(`live/s${i}`, 2)).port?.close();
    dir.unpublish(p.id, 1);
    dir.release(p.id, 1);
  }
  // Worker 2 has not yet acknowledged the ends: every slab is still in use.
  assert.deepEqual(dir.stats(), { streams: 0, live: 0, releasing: 8 });
  const refused = dir.publish('live/new', 1);
  assert.ok(!refused.ok && refused.code === 'ERR_LIMIT' && /8 ended streams/.test(refused.reason), JSON.stringify(refused));
  dir.release(ids[0]!, 2);
  assert.ok(dir.publish('live/new', 1).ok, 'room again once one slab is let go');
  assert.equal(pool.stats().inUse, 8);
});

test('a name awaited on two workers gets its slab with the publisher: the publishing worker in its grant, the other in streamUp', () => {
  const { dir, events } = setup({ playWaitMs: 10_000 });
  const w1 = granted(dir.subscribe('live/x', 1));
  const w2 = granted(dir.subscribe('live/x', 2));
  assert.equal(w1.id, w2.id);
  const p = dir.publish('live/x', 1);
  assert.ok(p.ok);
  const up = events.find(({ w, e }) => w === 2 && e.t === 'streamUp')?.e;
  assert.ok(up?.t === 'streamUp' && up.sab === p.sab, 'worker 2 told the slab');
  assert.ok(!events.some(({ w, e }) => w === 1 && e.t === 'streamUp'), 'the publisher\'s worker has it from its grant');
  dir.closeAll('test over');
});

test('maxPublishesPerIp: live publishes per address across workers; unpublish, a dead worker and a republish keep the count right', () => {
  const { dir } = setup({ maxPublishesPerIp: 2, republishGraceMs: 1000 });
  const a = dir.publish('live/a', 1, '10.0.0.1');
  const b = dir.publish('live/b', 2, '10.0.0.1');
  assert.ok(a.ok && b.ok);
  assert.deepEqual(dir.publish('live/c', 1, '10.0.0.1'), { ok: false, code: 'ERR_ACCESS', reason: '10.0.0.1 already publishes 2 streams (access.maxPublishesPerIp)' });
  assert.ok(dir.publish('live/c', 1, '10.0.0.2').ok, 'another address is not affected');
  assert.ok(dir.publish('live/d', 1).ok, 'an edge pull (no address) is not counted');
  dir.unpublish(a.id, 1);
  assert.ok(dir.publish('live/e', 1, '10.0.0.1').ok, 'a slot back after an unpublish (the name in grace does not count)');
  dir.workerGone(2);
  const f = dir.publish('live/f', 1, '10.0.0.1');
  assert.ok(f.ok, 'a slot back when the worker of a publisher died');
  assert.equal(dir.publish('live/g', 1, '10.0.0.1').ok, false);
  // Republishing a name in grace takes a slot like any publish.
  dir.unpublish(f.id, 1);
  assert.ok(dir.publish('live/f', 1, '10.0.0.1').ok);
  assert.equal(dir.publish('live/g', 1, '10.0.0.1').ok, false);
});

test('a client publish takes a name held only as a pulled copy: the pull is told to stop (even when watched), the name frees, nobody pulls it again', async () => {
  const pool = new SlabPool(512 * 1024, 8);
  const events: { w: number; e: DirectoryEvent }[] = [];
  const dir = new StreamDirectory(pool, { maxStreams: 8, republishGraceMs: 1000, playWaitMs: 1000, pull: { idleStopMs: 1000 } }, (w, e) => {
    events.push({ w, e });
    if ('port' in e && e.port) e.port.close();
  });
  const ended: string[] = [];
  dir.onPublishEnd = (key) => ended.push(key);
  granted(dir.subscribe('live/x', 1));
  assert.equal(events.at(-1)?.e.t, 'pull', 'worker 1 pulls it');
  const pulled = dir.publish('live/x', 1);
  assert.ok(pulled.ok);
  dir.watched(pulled.id, 1, true);
  assert.equal(dir.yieldPull('live/y'), undefined, 'not a pulled copy: nothing to wait for');
  const freed = dir.yieldPull('live/x');
  assert.ok(freed);
  const stop = events.at(-1)!;
  assert.deepEqual([stop.w, stop.e.t, 'yield' in stop.e && stop.e.yield], [1, 'pullStop', true]);
  const again = dir.yieldPull('live/x');
  assert.equal(events.filter(({ e }) => e.t === 'pullStop').length, 2, 'asked again on every ask (a lost stop is resent)');
  let done = false;
  void freed.then(() => (done = true));
  void again;
  await Promise.resolve();
  assert.equal(done, false, 'waits for the pull to end');
  const before = events.length;
  dir.unpublish(pulled.id, 1);
  await freed;
  assert.deepEqual(ended, ['live/x'], 'onPublishEnd told once');
  assert.ok(!events.slice(before).some(({ e }) => e.t === 'pull'), 'no new puller while the publish takes over');
  const client = dir.publish('live/x', 2);
  assert.ok(client.ok && client.sab === pulled.sab, 'the client resumes the same ring: players stay');
  dir.closeAll('test');
});

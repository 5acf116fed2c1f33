import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { arrivalAge, newRecordView, seqBefore, TagFlag, TagRing, wallMs31 } from '../../src/core/tag-ring.js';
import { SlabPool } from '../../src/core/slab-pool.js';

function body(n: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  b.writeUInt32BE(n, 0);
  b.fill(n & 0xff, 4);
  return b;
}

test('append then read: FLV tag bytes, index fields and body', () => {
  const ring = TagRing.create(new SharedArrayBuffer(64 * 1024));
  const seq = ring.append(9, 0x01020304, TagFlag.Key, body(7, 20));
  assert.equal(seq, 0);
  assert.equal(ring.head(), 1);
  const v = newRecordView();
  assert.ok(ring.read(0, v));
  assert.deepEqual([v.type, v.flags, v.timestamp, v.length], [9, TagFlag.Key, 0x01020304, 11 + 20 + 4]);
  const tag = Buffer.from(ring.data.subarray(v.offset, v.offset + v.length));
  // FLV tag header: type 09, size 000014, ts 020304 + ext 01, stream id 000000
  assert.equal(tag.subarray(0, 11).toString('hex'), '09' + '000014' + '020304' + '01' + '000000');
  assert.equal(tag.readUInt32BE(31), 31, 'PreviousTagSize = 11 + 20');
  assert.deepEqual(Buffer.from(ring.body(v)), body(7, 20));
  assert.equal(ring.keySeq(), 0);
});

test('reserve/commit writes in place; cancel leaves nothing behind', () => {
  const ring = TagRing.create(new SharedArrayBuffer(64 * 1024));
  const at = ring.reserve(3);
  ring.data.set([1, 2, 3], at);
  ring.cancel();
  assert.equal(ring.head(), 0);
  const at2 = ring.reserve(2);
  ring.data.set([9, 9], at2);
  assert.equal(ring.commit(8, 5, 0), 0);
  const v = newRecordView();
  assert.ok(ring.read(0, v));
  assert.deepEqual([...ring.body(v)], [9, 9]);
});

test('wrap-around retires the oldest records first and keeps the rest intact', () => {
  const ring = TagRing.create(new SharedArrayBuffer(16 * 1024));
  const v = newRecordView();
  for (let i = 0; i < 2000; i++) {
    ring.append(i % 10 === 0 ? 9 : 8, i, i % 10 === 0 ? TagFlag.Key : 0, body(i, 100 + (i % 37)));
    const tail = ring.tail();
    // Every record in [tail, head) reads back whole and correct.
    for (let s = tail; seqBefore(s, ring.head()); s++) {
      assert.ok(ring.read(s, v), `seq ${s} readable`);
      assert.equal(Buffer.from(ring.body(v)).readUInt32BE(0), s);
    }
    assert.ok(!ring.read(tail - 1, v) || tail === 0, 'retired record is not readable');
  }
  assert.ok(ring.tail() > 1500, 'ring wrapped many times');
  const k = ring.keySeq()!;
  assert.equal(k % 10, 0);
  assert.ok(ring.read(k, v) && v.flags & TagFlag.Key);
});

test('index capacity bounds the number of live records', () => {
  const ring = TagRing.create(new SharedArrayBuffer(64 * 1024));
  for (let i = 0; i < ring.indexCap * 3; i++) ring.append(8, i, 0, Buffer.alloc(1));
  assert.equal(ring.head() - ring.tail(), ring.indexCap, "a full index holds exactly indexCap records");
});

test('oversized body is refused with ERR_MESSAGE_TOO_LARGE', () => {
  const ring = TagRing.create(new SharedArrayBuffer(16 * 1024));
  assert.throws(() => ring.reserve(ring.maxBody + 1), { code: 'ERR_MESSAGE_TOO_LARGE' });
});

test('keySeq is undefined once the keyframe is retired', () => {
  const ring = TagRing.create(new SharedArrayBuffer(16 * 1024));
  ring.append(9, 0, TagFlag.Key, Buffer.alloc(100));
  for (let i = 0; i < 200; i++) ring.append(8, i, 0, Buffer.alloc(100));
  assert.equal(ring.keySeq(), undefined);
});

test('sequence numbers compare wrap-safe', () => {
  assert.ok(seqBefore(0x7fffffff, -0x80000000));
  assert.ok(!seqBefore(-0x80000000, 0x7fffffff));
  assert.ok(seqBefore(-1, 0));
});

test('arrival age: wraps at 2^31 ms; a record committed after the reader read its clock is age 0', () => {
  const now = 1_765_000_000_000;
  assert.equal(arrivalAge(wallMs31(now - 250), now), 250);
  // The low 31 bits of the clock wrap every ~24.8 days.
  const atWrap = Math.ceil(now / 2 ** 31) * 2 ** 31;
  assert.equal(wallMs31(atWrap), 0);
  assert.equal(arrivalAge(wallMs31(atWrap - 3), atWrap + 1), 4);
  // Another thread's commit 2 ms after our Date.now(): not 2^31 - 2 ms old.
  assert.equal(arrivalAge(wallMs31(now + 2), now), 0);
  assert.equal(arrivalAge(wallMs31(atWrap + 1), atWrap - 1), 0);
});

test('concurrent reader thread never sees a torn tag', async (t) => {
  const sab = new SharedArrayBuffer(32 * 1024);
  const ring = TagRing.create(sab);
  const url = new URL('./ring-reader.worker.js', import.meta.url);
  // [0] the reader is up, [1] tags it has checked so far.
  const ready = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(url, { workerData: { sab, ready: ready.buffer } });
  const done = new Promise<{ checked: number; torn: number; lapped: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  // Wait for the reader, then write until it has checked enough tags while
  // the writer ran: on a loaded machine the reader thread may get little CPU,
  // so the overlap is counted, not timed (bounded at 30 s all the same).
  // Each body repeats its seq's low byte, with the seq in its first 4 bytes.
  Atomics.wait(ready, 0, 0, 5000);
  const minOverlap = Date.now() + 300;
  const giveUp = Date.now() + 30_000;
  for (let i = 0; ; i++) {
    ring.append(9, i, 0, body(i, 50 + (i % 200)));
    if ((i & 1023) !== 0) continue;
    const now = Date.now();
    if ((now >= minOverlap && i >= 20000 && Atomics.load(ready, 1) >= 5000) || now > giveUp) break;
  }
  ring.close();
  const r = await done;
  assert.equal(r.torn, 0, `no torn reads (checked ${r.checked}, lapped ${r.lapped})`);
  t.diagnostic(`reader checked ${r.checked} tags, resynced ${r.lapped} times`);
  assert.ok(r.checked >= 5000, `reader checked ${r.checked} tags`);
});

test('slab pool reuses slabs and is idempotent on release', () => {
  const pool = new SlabPool(64 * 1024, 3, 2);
  const a = pool.acquire();
  const b = pool.acquire();
  pool.release(a);
  pool.release(a);
  assert.deepEqual(pool.stats(), { slabBytes: 65536, total: 2, free: 1, inUse: 1 });
  assert.equal(pool.acquire(), a, 'freed slab reused');
  pool.acquire();
  assert.throws(() => pool.acquire(), { code: 'ERR_LIMIT' });
  pool.release(b);
  for (let i = 0; i < 200; i++) pool.release(pool.acquire());
  assert.equal(pool.stats().total, 3, 'cycles leave the pool where it was');
});

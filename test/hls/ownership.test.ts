import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { beatHls, claimHls, hlsOwner, ownerStale, ownerWorker, releaseHls } from '../../src/hls/ownership.js';

const STALE = 3000;
const newCtl = (): Int32Array => new Int32Array(new SharedArrayBuffer(128), 0, 32);

test('one claim wins; a live owner keeps the stream; its release frees it for the next claim with a new token', () => {
  const ctl = newCtl();
  const t0 = 1_000_000;
  const a = claimHls(ctl, 3, t0, STALE);
  assert.ok(a !== undefined && a !== 0);
  assert.equal(ownerWorker(a), 3);
  assert.equal(hlsOwner(ctl), a);
  assert.equal(claimHls(ctl, 4, t0 + 100, STALE), undefined, 'a live owner is not replaced');
  releaseHls(ctl, a);
  assert.equal(hlsOwner(ctl), 0);
  const b = claimHls(ctl, 3, t0 + 200, STALE);
  assert.ok(b !== undefined && b !== a, 'the same worker claiming again gets a new token');
});

test('an owner whose beat is older than the stale bound is replaced; the replaced one can neither beat nor release', () => {
  const ctl = newCtl();
  const t0 = 5_000_000;
  const a = claimHls(ctl, 1, t0, STALE)!;
  beatHls(ctl, a, t0 + 2000);
  assert.equal(ownerStale(ctl, t0 + 2000 + STALE, STALE), false);
  assert.equal(claimHls(ctl, 2, t0 + 2000 + STALE, STALE), undefined);
  assert.equal(ownerStale(ctl, t0 + 2001 + STALE, STALE), true);
  const b = claimHls(ctl, 2, t0 + 2001 + STALE, STALE)!;
  assert.equal(ownerWorker(b), 2);
  beatHls(ctl, a, t0 + 9_000_000); // the old owner wakes up
  releaseHls(ctl, a);
  assert.equal(hlsOwner(ctl), b, 'the old token changes nothing');
  assert.equal(ownerStale(ctl, t0 + 2001 + STALE + 10, STALE), false, 'nor does its beat');
});

test('the beat survives the clock word wrapping (30 bits)', () => {
  const ctl = newCtl();
  const nearWrap = 2 ** 30 - 500;
  const a = claimHls(ctl, 0, nearWrap, STALE)!;
  assert.equal(ownerStale(ctl, nearWrap + 1000, STALE), false);
  beatHls(ctl, a, nearWrap + 1000);
  assert.equal(ownerStale(ctl, nearWrap + 1000 + STALE + 1, STALE), true);
});

test('a claimant whose clock read is a few ms older than the owner\'s beat sees a live owner, not a stale one', () => {
  const ctl = newCtl();
  for (const t0 of [7_000_000, 2 ** 30 - 2]) {
    const a = claimHls(ctl, 1, t0 + 5, STALE)!;
    assert.equal(ownerStale(ctl, t0, STALE), false);
    assert.equal(claimHls(ctl, 2, t0, STALE), undefined, 'an earlier clock read must not steal a live stream');
    releaseHls(ctl, a);
  }
});

test('an owner silent for longer than half the 30-bit clock (over 6 days) is still stale', () => {
  const ctl = newCtl();
  const t0 = 9_000_000;
  claimHls(ctl, 1, t0, STALE);
  for (const age of [STALE + 1, 2 ** 29 + 5000, 2 ** 30 - 61_000]) assert.equal(ownerStale(ctl, t0 + age, STALE), true, `silent ${age} ms`);
  assert.equal(ownerStale(ctl, t0 - 30_000, STALE), false, 'a beat 30 s in the claimant\'s future is clock skew');
});

test('threads claiming at once: exactly one wins, and the word holds its token', async () => {
  const sab = new SharedArrayBuffer(128);
  const ctl = new Int32Array(sab, 0, 32);
  const workers = Array.from({ length: 6 }, (_, id) => new Worker(new URL('./claim-racer.worker.js', import.meta.url), { workerData: { sab, id } }));
  const tokens = workers.map((w) => new Promise<number>((resolve, reject) => (w.once('message', resolve), w.once('error', reject))));
  await new Promise((r) => setTimeout(r, 200));
  Atomics.store(ctl, 31, 1);
  Atomics.notify(ctl, 31);
  const got = await Promise.all(tokens);
  await Promise.all(workers.map((w) => w.terminate()));
  const winners = got.filter((t) => t !== 0);
  assert.equal(winners.length, 1, `tokens ${got.join(',')}`);
  assert.equal(hlsOwner(ctl), winners[0]);
});

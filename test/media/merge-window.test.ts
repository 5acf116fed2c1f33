import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { LoadAdaptiveWindow, mergeWindowOf } from '../../src/media/merge-window.js';

const idleSample = () => performance.eventLoopUtilization();

test('merge window: an idle worker pumps at once; a busy one merges up to the budget, growing with load', () => {
  const w = new LoadAdaptiveWindow(20, idleSample, 1e9);
  assert.equal(w.current(), 0, 'starts at 0');
  for (let i = 0; i < 10; i++) w.observe(0.05);
  assert.equal(w.current(), 0, 'under 10 % busy: no merging');
  const seen: number[] = [];
  for (const u of [0.2, 0.3, 0.4, 0.6, 0.9, 1, 1, 1, 1, 1]) {
    w.observe(u);
    seen.push(w.current());
  }
  assert.ok(seen.every((ms, i) => i === 0 || ms >= seen[i - 1]!), `grows with load: ${seen.join(',')}`);
  assert.ok(seen[0]! > 0 && seen[0]! < 20, `part of the budget at 20 % busy: ${seen[0]}`);
  assert.equal(seen.at(-1), 20, 'the whole budget when saturated, never more');
  for (let i = 0; i < 12; i++) w.observe(0);
  assert.equal(w.current(), 0, 'back to 0 when the load goes');
});

test('merge window: a fixed player.mergeWriteMs replaces it; a budget of 0 never merges', () => {
  assert.equal(mergeWindowOf(100, 20)(), 100);
  assert.equal(mergeWindowOf(0, 0)(), 0);
  assert.equal(typeof mergeWindowOf(0, 20)(), 'number');
});

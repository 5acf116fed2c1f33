import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimestampPolicy, Track } from '../../src/media/timestamp.js';

test('first publisher keeps encoder timestamps', () => {
  const p = new TimestampPolicy(10000);
  assert.deepEqual([0, 40, 80].map((t) => p.correct(Track.Video, t)), [0, 40, 80]);
});

test('per-track output never goes backwards; A/V interleave is kept', () => {
  const p = new TimestampPolicy(10000);
  assert.equal(p.correct(Track.Video, 100), 100);
  assert.equal(p.correct(Track.Audio, 90), 90, 'audio slightly behind video is legitimate');
  assert.equal(p.correct(Track.Video, 95), 100, 'video going backwards is clamped');
});

test('a jump beyond maxJump is a discontinuity: rebased to continue', () => {
  const p = new TimestampPolicy(5000);
  p.correct(Track.Video, 1000);
  assert.equal(p.correct(Track.Video, 900000), 1001);
  assert.equal(p.correct(Track.Audio, 900010), 1011, 'audio follows the same offset');
  assert.equal(p.correct(Track.Video, 5), 1012, 'backward jump also rebased');
});

test('a republish continues after what players saw', () => {
  const p = new TimestampPolicy(10000);
  p.correct(Track.Video, 5000);
  p.newPublisher();
  assert.equal(p.correct(Track.Video, 0), 5001);
  assert.equal(p.correct(Track.Video, 40), 5041);
});

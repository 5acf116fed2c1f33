// The send schedule (loadtest/schedule.ts): due times from the wall clock,
// catching up after a stall without dropping a frame, and latency measured
// from the scheduled time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameSchedule, frameLatencyMs, sendDue, type PacedSource } from '../../loadtest/schedule.js';
import { FrameTally } from '../../loadtest/frame-tally.js';
import { SyntheticSource } from '../../loadtest/synthetic-media.js';
import { zeroTotals } from '../../loadtest/messages.js';

test('frame n is due at start + n / fps', () => {
  const s = new FrameSchedule(25, 10_000);
  assert.equal(s.intervalMs, 40);
  assert.equal(s.dueAt(0), 10_000);
  assert.equal(s.dueAt(1), 10_040);
  assert.equal(s.dueAt(250), 20_000);
  // Computed from n, not summed: no drift after a day of frames at 29.97 fps.
  const ntsc = new FrameSchedule(30000 / 1001);
  assert.ok(Math.abs(ntsc.dueAt(30000 * 86400 / 1001) - 86_400_000) < 1e-3);
});

test('dueCount: frames due by a time, the one due exactly then included', () => {
  const s = new FrameSchedule(25, 1000);
  assert.equal(s.dueCount(999.9), 0);
  assert.equal(s.dueCount(1000), 1);
  assert.equal(s.dueCount(1039.9), 1);
  assert.equal(s.dueCount(1040), 2);
  assert.equal(s.dueCount(2000), 26);
  const odd = new FrameSchedule(3);
  for (let n = 0; n < 100; n++) assert.equal(odd.dueCount(odd.dueAt(n)), n + 1, `frame ${n} due at its own time`);
});

/** A fixed-rate source that records what it sent: [seq, scheduled, sentAt]. */
function recorder(fps: number, startMs: number): PacedSource & { sent: [number, number, number][] } {
  const s = new FrameSchedule(fps, startMs);
  let n = 0;
  const sent: [number, number, number][] = [];
  return { sent, nextDueMs: () => s.dueAt(n), sendNext: (now) => void sent.push([n, s.dueAt(n++), now]) };
}

test('after a stall every overdue frame goes out at once, in order, with its scheduled time', () => {
  const src = recorder(25, 0);
  // On time for 200 ms: one frame per tick.
  for (let now = 0; now <= 200; now += 40) assert.equal(sendDue(src, now, Infinity), 1);
  // Stalled for a second (a blocked event loop): the next call catches up.
  assert.equal(sendDue(src, 1200, Infinity), 25, 'frames 6..30 are all due');
  const seqs = src.sent.map(([n]) => n);
  assert.deepEqual(seqs, seqs.map((_, i) => i), 'no frame skipped');
  for (const [n, scheduled, sentAt] of src.sent) {
    assert.equal(scheduled, n * 40, 'stamped with its own due time');
    assert.ok(sentAt >= scheduled);
  }
  const late = src.sent.filter(([, scheduled, sentAt]) => sentAt - scheduled > 0);
  assert.equal(late.length, 24, 'frames 6..29 late; frame 30 was due just then');
  assert.equal(Math.max(...late.map(([, s, at]) => at - s)), 960, 'frame 6, due at 240, went out at 1200');
});

test('a backed-up socket holds frames back (they stay due), the end bounds the run', () => {
  const src = recorder(10, 0);
  let room = 3;
  assert.equal(sendDue(src, 1000, Infinity, () => room-- > 0), 3, 'stops when the socket is full');
  assert.equal(sendDue(src, 1000, Infinity), 8, 'the rest go out once it drains: frames 3..10');
  assert.deepEqual(src.sent.map(([n]) => n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(sendDue(src, 5000, 1500), 4, 'frames due before the end (11..14) only');
  assert.equal(src.nextDueMs(), 1500);
});

test('latency is receive time minus scheduled time, not minus the actual send time', () => {
  assert.equal(frameLatencyMs(1250, 1000), 250);
  const src = new SyntheticSource({ stream: 0, bitrateKbps: 500, fps: 25, gop: 25, audio: false });
  const latencies: number[] = [];
  const totals = zeroTotals();
  const tally = new FrameTally(0, { metadata: false, audio: false }, {
    counters: [totals],
    videoLatency: (ms) => latencies.push(ms),
    audioLatency: () => assert.fail('no audio'),
    firstVideoFrame: () => undefined,
  }, 0);
  const start = 10_000;
  // The sender stalls until t = 10 500: frames 0..12 go out together at 10 500 and arrive 2 ms later.
  const sendAt = 10_500;
  for (let n = 0; n <= 12; n++) {
    const due = start + src.nextOffsetMs();
    const m = src.take(due);
    tally.onTag(m.type, m.payload, sendAt + 2);
  }
  assert.equal(totals.framesIn, 13);
  assert.deepEqual(latencies, latencies.map((_, n) => 502 - n * 40), 'frame n: 10 502 - (10 000 + 40 n)');
  assert.equal(totals.gaps, 0);
});

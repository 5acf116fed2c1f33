import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamSlab } from '../../src/media/stream-slab.js';
import { LiveStream } from '../../src/media/live-stream.js';
import type { EgressForm, PlayerTransport, SubscriberEvents } from '../../src/media/types.js';
import type { TagRing, RecordView } from '../../src/core/tag-ring.js';

/** Egress form for tests: type byte + timestamp + body, so the test can read back what was sent. */
const form: EgressForm = {
  id: 'test',
  build: (ring: TagRing, rec: RecordView) => frame(rec.type, rec.timestamp, ring.body(rec)),
  buildSticky: (type, ts, body) => frame(type, ts, body),
  opensAtZero: false,
};
function frame(type: number, ts: number, body: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + body.length);
  b[0] = type;
  b.writeUInt32BE(ts, 1);
  b.set(body, 5);
  return b;
}

class FakeTransport implements PlayerTransport {
  writableLength = 0;
  sent: Buffer[] = [];
  write(chunks: Buffer[]): void {
    this.sent.push(...chunks);
  }
}

/** Counts the writes: one per flush that had something for the player. */
class CountingTransport extends FakeTransport {
  writes = 0;
  /** The array handed over last (a shared batch is one array for every player at its cursor). */
  lastBatch: Buffer[] | undefined;
  override write(chunks: Buffer[]): void {
    this.writes++;
    this.lastBatch = chunks;
    super.write(chunks);
  }
}

const events = (): SubscriberEvents & { evicted: string[] } => {
  const evicted: string[] = [];
  return { evicted, onPublish() {}, onUnpublish() {}, onStreamEnd() {}, onEvict: (_c, r) => evicted.push(r) };
};

const avcHeader = Buffer.from('1700000000014d401effe1', 'hex');
const key = (n: number) => Buffer.concat([Buffer.from('1701000000', 'hex'), Buffer.alloc(400, n & 0xff), u32(n)]);
const inter = (n: number) => Buffer.concat([Buffer.from('2701000000', 'hex'), Buffer.alloc(400, n & 0xff), u32(n)]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const turn = () => new Promise((r) => setImmediate(r));

function stream(slabBytes: number): LiveStream {
  const sab = new SharedArrayBuffer(slabBytes);
  StreamSlab.format(sab);
  const s = new LiveStream('live', 'x', 1, sab, { maxTimestampJumpMs: 10000, mergeWindowMs: () => 0 });
  s.startPublishing(1);
  return s;
}

/** Publishes frames 0..n-1, keyframe every `gop`. */
function publish(s: LiveStream, from: number, n: number, gop: number): void {
  for (let i = from; i < from + n; i++) s.commitMedia(9, i * 40, i % gop === 0 ? key(i) : inter(i));
}

const frameNo = (b: Buffer) => b.readUInt32BE(b.length - 4);

test('a lapped reader resyncs at a keyframe and never sends a torn or mid-GOP frame', async () => {
  const s = stream(512 * 1024); // ~250 KB of ring after the sticky area: laps quickly
  s.commitMedia(9, 0, avcHeader);
  const t = new FakeTransport();
  const sub = s.addSubscriber(form, t, events(), { writeHighWaterBytes: 1 << 20, queueMaxBytes: 1 << 30, queueMaxMs: 1e9, stallTimeoutMs: 1e9 });
  publish(s, 0, 10, 10);
  await turn();
  const before = t.sent.length;
  assert.ok(before > 5, 'got the first GOP');
  // Stall the player while the writer laps the ring many times.
  sub.paused = true;
  publish(s, 10, 2000, 10);
  sub.paused = false;
  sub.pump();
  const after = t.sent.slice(before).filter((b) => b[0] === 9 && b.length > 100);
  assert.ok(after.length > 0, 'resumed');
  assert.equal(frameNo(after[0]!) % 10, 0, `resumed at frame ${frameNo(after[0]!)}, a keyframe`);
  for (let i = 1; i < after.length; i++) assert.equal(frameNo(after[i]!), frameNo(after[i - 1]!) + 1, 'contiguous after resync');
  assert.ok(s.counters.resyncs >= 1, 'counted as a resync');
  assert.ok(sub.tagsDropped > 1000, `dropped ${sub.tagsDropped}`);
});

test('a lagging reader drops forward to the latest keyframe (GOP-aware), sequence header kept', async () => {
  const s = stream(4 * 1024 * 1024);
  s.commitMedia(9, 0, avcHeader);
  const t = new FakeTransport();
  const sub = s.addSubscriber(form, t, events(), { writeHighWaterBytes: 1 << 20, queueMaxBytes: 20_000, queueMaxMs: 1e9, stallTimeoutMs: 1e9 });
  publish(s, 0, 5, 25);
  await turn();
  sub.paused = true;
  publish(s, 5, 200, 25); // ~80 KB behind: over queueMaxBytes
  sub.paused = false;
  const before = t.sent.length;
  sub.pump();
  const frames = t.sent.slice(before).filter((b) => b[0] === 9 && b.length > 100).map(frameNo);
  assert.equal(frames[0], 200, 'jumped to the latest keyframe (200)');
  assert.deepEqual(frames, [200, 201, 202, 203, 204]);
  assert.equal(sub.tagsDropped, 195);
});

test('a stalled socket is evicted after stallTimeoutMs, memory bounded by the high-water mark', async () => {
  const s = stream(4 * 1024 * 1024);
  const t = new FakeTransport();
  const ev = events();
  s.addSubscriber(form, t, ev, { writeHighWaterBytes: 2000, queueMaxBytes: 1 << 30, queueMaxMs: 1e9, stallTimeoutMs: 50 });
  publish(s, 0, 3, 25);
  await turn();
  const sentBytes = t.sent.reduce((n, b) => n + b.length, 0);
  assert.ok(sentBytes < 2000 + 500, `at most high-water + one frame handed over (${sentBytes})`);
  t.writableLength = 5000; // the socket stops draining
  await new Promise((r) => setTimeout(r, 80));
  publish(s, 3, 1, 25);
  await turn();
  assert.equal(ev.evicted.length, 1, 'evicted once');
});

test('merged writes: tags arriving within mergeWriteMs go out in one write; a new player starts at once', async () => {
  const sab = new SharedArrayBuffer(4 * 1024 * 1024);
  StreamSlab.format(sab);
  const s = new LiveStream('live', 'm', 1, sab, { maxTimestampJumpMs: 10000, mergeWindowMs: () => 60 });
  s.startPublishing(1);
  s.commitMedia(9, 0, avcHeader);
  publish(s, 0, 3, 25);
  const t = new CountingTransport();
  s.addSubscriber(form, t, events(), { writeHighWaterBytes: 1 << 20, queueMaxBytes: 1 << 30, queueMaxMs: 1e9, stallTimeoutMs: 1e9 });
  await turn();
  assert.equal(t.writes, 1, 'the new player got its start without waiting for the merge window');
  // Three frames 10 ms apart, all inside one 60 ms window: one write.
  for (let i = 3; i < 6; i++) {
    publish(s, i, 1, 25);
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(t.writes, 1, 'nothing written before the window closes');
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(t.writes, 2, 'one write for the three frames');
  const frames = t.sent.filter((b) => b[0] === 9 && b.length > 100).map(frameNo);
  assert.deepEqual(frames, [0, 1, 2, 3, 4, 5]);
});

test('merged writes: a player waiting for the stream gets its first keyframe at once, then writes merge again', async () => {
  const sab = new SharedArrayBuffer(4 * 1024 * 1024);
  StreamSlab.format(sab);
  const s = new LiveStream('live', 'w', 1, sab, { maxTimestampJumpMs: 10000, mergeWindowMs: () => 2000 });
  const t = new CountingTransport();
  // Joined before the publisher (an edge's players while it pulls, a player before the encoder).
  s.addSubscriber(form, t, events(), { writeHighWaterBytes: 1 << 20, queueMaxBytes: 1 << 30, queueMaxMs: 1e9, stallTimeoutMs: 1e9 });
  await turn();
  assert.equal(t.writes, 0, 'nothing to send before the publish');
  s.startPublishing(1);
  s.commitMedia(9, 0, avcHeader);
  publish(s, 0, 1, 25);
  await turn();
  await turn();
  assert.deepEqual(t.sent.filter((b) => b[0] === 9 && b.length > 100).map(frameNo), [0], 'the first keyframe without waiting 2000 ms');
  const after = t.writes;
  publish(s, 1, 2, 25);
  await turn();
  await turn();
  assert.equal(t.writes, after, 'once started, the player is back on the merge window');
  s.close('test over');
});

test('a late joiner\'s opening sequence header goes out at 0 for a form that opensAtZero (RTMP, for librtmp), at its keyframe otherwise (FLV re-bases)', async () => {
  for (const opensAtZero of [true, false]) {
    const s = stream(4 * 1024 * 1024);
    s.commitMedia(9, 0, avcHeader);
    publish(s, 0, 60, 25); // keyframes at frames 0, 25, 50 (ts 2000)
    const t = new FakeTransport();
    s.addSubscriber({ ...form, opensAtZero }, t, events(), { writeHighWaterBytes: 1 << 20, queueMaxBytes: 1 << 30, queueMaxMs: 1e9, stallTimeoutMs: 1e9 });
    await turn();
    const [seq, first] = t.sent;
    assert.ok(seq && first, 'sent the sequence header and a frame');
    assert.equal(seq.length, 5 + avcHeader.length, 'the sequence header first');
    assert.equal(seq.readUInt32BE(1), opensAtZero ? 0 : 2000, `sequence header timestamp (opensAtZero ${opensAtZero})`);
    assert.equal(frameNo(first), 50, 'then the latest keyframe');
    assert.equal(first.readUInt32BE(1), 2000, 'at its own timestamp');
  }
});

/**
 * The shared turn batch (egress/turn-batch.ts) is a shortcut, so it must
 * send exactly what the one-by-one path sends. One scenario is played with
 * it on and off, and each player's bytes compared: plain players, one with
 * audio off, one paused past queueMaxBytes (it drops to a keyframe while
 * the others keep the shared path), a late joiner, a mid-stream sequence
 * header change, and a socket that backs up over the high-water mark.
 */
test('players at one cursor share the turn\'s batch, and every player gets what the one-by-one path sends it', async () => {
  const aacHeader = Buffer.from('af0012100000', 'hex');
  const audio = (n: number) => Buffer.concat([Buffer.from('af01', 'hex'), Buffer.alloc(60, n & 0xff), u32(n)]);
  const run = async (sharedBatch: boolean) => {
    const s = stream(4 * 1024 * 1024);
    s.commitMedia(9, 0, avcHeader);
    s.commitMedia(8, 0, aacHeader);
    // High water above queueMaxBytes: a backlog can be over the lag bound and still fit under the mark.
    const policy = { writeHighWaterBytes: 64_000, queueMaxBytes: 20_000, queueMaxMs: 1e9, stallTimeoutMs: 1e9, sharedBatch };
    const ts = [0, 1, 2, 3].map(() => new CountingTransport());
    const subs = ts.slice(0, 3).map((t) => s.addSubscriber(form, t, events(), policy));
    subs[1]!.receiveAudio = false;
    const step = async (i: number) => {
      if (i === 30) s.commitMedia(9, i * 40, Buffer.from('1700000000014d4028ffe1', 'hex')); // new video header in-band
      if (i === 20) subs[2]!.paused = true;
      if (i === 60) subs[2]!.paused = false;
      if (i === 45) subs.push(s.addSubscriber(form, ts[3]!, events(), policy));
      if (i === 70) ts[0]!.writableLength = 63_800; // backs up: only what fits under the mark
      if (i === 72) ts[0]!.writableLength = 0;
      s.commitMedia(9, i * 40, i % 25 === 0 ? key(i) : inter(i));
      s.commitMedia(8, i * 40 + 5, audio(i));
      if (i % 3 === 0) s.commitMedia(8, i * 40 + 25, audio(i + 1000));
      await turn();
    };
    for (let i = 0; i < 100; i++) await step(i);
    await turn();
    return { ts, subs };
  };
  const shared = await run(true);
  const alone = await run(false);
  for (let p = 0; p < 4; p++) {
    const a = shared.ts[p]!.sent.map((b) => b.toString('hex'));
    const b = alone.ts[p]!.sent.map((b) => b.toString('hex'));
    assert.ok(a.length > 50, `player ${p} got ${a.length} tags`);
    assert.deepEqual(a, b, `player ${p}: the same tags, in the same order`);
    assert.equal(shared.ts[p]!.writes, alone.ts[p]!.writes, `player ${p}: the same writes (the high-water mark splits them alike)`);
    assert.equal(shared.subs[p]!.tagsSent, alone.subs[p]!.tagsSent, `player ${p}: tagsSent`);
    assert.equal(shared.subs[p]!.bytesSent, alone.subs[p]!.bytesSent, `player ${p}: bytesSent`);
    assert.equal(shared.subs[p]!.tagsDropped, alone.subs[p]!.tagsDropped, `player ${p}: tagsDropped`);
  }
  assert.ok(alone.subs[2]!.tagsDropped > 0, 'the paused player dropped to a keyframe');
  // The last turn went out as one batch, handed to every plain player (the one with audio off has its own).
  const batch = shared.ts[0]!.lastBatch;
  assert.ok(batch && batch.length > 0);
  assert.equal(shared.ts[2]!.lastBatch, batch, 'the player that dropped is back on the shared batch');
  assert.equal(shared.ts[3]!.lastBatch, batch, 'and so is the late joiner');
  assert.notEqual(shared.ts[1]!.lastBatch, batch, 'the player with audio off is not');
  assert.notEqual(alone.ts[3]!.lastBatch, alone.ts[0]!.lastBatch, 'with sharedBatch off each player has its own');
});

test('audio waits for the next video frame while the worker merges (audioHoldMs), up to the hold, and the frame goes at once; never on an idle worker or an audio-only stream', async () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const aac = Buffer.from('af0012100000', 'hex');
  const audio = (n: number) => Buffer.concat([Buffer.from('af01', 'hex'), Buffer.alloc(60, n), u32(n)]);
  const make = (windowMs: number, withVideo: boolean) => {
    const sab = new SharedArrayBuffer(4 * 1024 * 1024);
    StreamSlab.format(sab);
    const s = new LiveStream('live', `h${windowMs}${withVideo}`, 1, sab, { maxTimestampJumpMs: 10000, mergeWindowMs: () => windowMs, audioHoldMs: 150 });
    s.startPublishing(1);
    s.commitMedia(8, 0, aac);
    if (withVideo) {
      s.commitMedia(9, 0, avcHeader);
      publish(s, 0, 1, 25);
    }
    s.commitMedia(8, 1, audio(0));
    const t = new CountingTransport();
    s.addSubscriber(form, t, events(), { writeHighWaterBytes: 1 << 20, queueMaxBytes: 1 << 30, queueMaxMs: 1e9, stallTimeoutMs: 1e9 });
    return { s, t };
  };
  // Busy worker (a 10 ms window), stream with video: the audio waits for the frame, then both go in one write.
  {
    const { s, t } = make(10, true);
    await sleep(30); // the start, and the flush it left pending, are done
    const start = t.writes;
    s.commitMedia(8, 20, audio(1));
    await sleep(40);
    assert.equal(t.writes, start, 'the audio is held past the 10 ms window');
    publish(s, 1, 1, 25);
    await sleep(30);
    assert.equal(t.writes, start + 1, 'the video frame brought it: one write');
    assert.deepEqual(t.lastBatch!.map((b) => b[0]), [8, 9], 'audio then video, in one batch');
    // Audio with no frame after it goes out when the hold runs out.
    s.commitMedia(8, 60, audio(2));
    await sleep(60);
    assert.equal(t.writes, start + 1, 'still held at 60 ms');
    await sleep(150);
    assert.equal(t.writes, start + 2, 'sent once the 150 ms hold ran out');
    s.close('test over');
  }
  // Frames 40 ms apart, a 30 ms window: the video frame the audio waits for goes at once, not after the window.
  {
    const { s, t } = make(30, true);
    await sleep(60); // the start's flush, scheduled before the stream had video, is done
    const start = t.writes;
    s.commitMedia(8, 20, audio(1));
    publish(s, 1, 1, 25);
    await sleep(12);
    assert.equal(t.writes, start + 1, 'audio and video out within 12 ms of the frame, inside the 30 ms window');
    assert.deepEqual(t.lastBatch!.map((b) => b[0]), [8, 9]);
    // Video alone (nothing held) goes at once as well.
    publish(s, 2, 1, 25);
    await sleep(12);
    assert.equal(t.writes, start + 2, 'a video frame alone is not held for the window');
    // A data tag is not video: it waits for the window as before.
    s.commitData(90, Buffer.from([2, 0, 1, 0x78]));
    await sleep(12);
    assert.equal(t.writes, start + 2, 'a data tag waits for the window');
    await sleep(40);
    assert.equal(t.writes, start + 3);
    s.close('test over');
  }
  // A window longer than the frame interval (60 against 40 ms): a video frame waits, so the next one can share the write.
  {
    const { s, t } = make(60, true);
    await sleep(100);
    const start = t.writes;
    publish(s, 1, 1, 25);
    await sleep(45);
    publish(s, 2, 1, 25);
    await sleep(40);
    assert.equal(t.writes, start + 1, 'two frames, one write');
    assert.deepEqual(t.lastBatch!.map((b) => b[0]), [9, 9]);
    s.close('test over');
  }
  // An idle worker (no window) and an audio-only stream never hold audio.
  for (const [windowMs, withVideo] of [[0, true], [10, false]] as const) {
    const { s, t } = make(windowMs, withVideo);
    await sleep(30);
    const start = t.writes;
    s.commitMedia(8, 20, audio(1));
    await sleep(windowMs + 20);
    assert.equal(t.writes, start + 1, `window ${windowMs} ms, video ${withVideo}: the audio went without waiting`);
    s.close('test over');
  }
});

test('a batch made earlier in the turn is not reused once the writer has retired its first record: that player resyncs as the one-by-one path would', async () => {
  const sab = new SharedArrayBuffer(320 * 1024);
  StreamSlab.format(sab);
  const s = new LiveStream('live', 'lap', 1, sab, { maxTimestampJumpMs: 1e9, mergeWindowMs: () => 0 });
  s.startPublishing(1);
  s.commitMedia(9, 0, avcHeader);
  const frame = (n: number) => Buffer.concat([Buffer.from(n % 50 === 0 ? '1701000000' : '2701000000', 'hex'), Buffer.alloc(2000, n & 0xff)]);
  let n = 0;
  const pub = (k: number) => {
    for (let i = 0; i < k; i++, n++) s.commitMedia(9, n * 40, frame(n));
  };
  const policy = (sharedBatch: boolean) => ({ writeHighWaterBytes: 1 << 24, queueMaxBytes: 1 << 30, queueMaxMs: 1e9, stallTimeoutMs: 1e9, sharedBatch });
  const [ta, tb, tc] = [new FakeTransport(), new FakeTransport(), new FakeTransport()];
  const subs = [s.addSubscriber(form, ta, events(), policy(true)), s.addSubscriber(form, tb, events(), policy(true)), s.addSubscriber(form, tc, events(), policy(false))];
  pub(200);
  await turn();
  await turn();
  const ring = s.ring!;
  for (const x of subs) x.paused = true;
  pub(Math.floor((ring.dataCap * 0.8) / 2015));
  for (const x of subs) x.paused = false;
  subs[0]!.pump(); // makes the batch from the shared cursor to the head
  // An incoming message reserves its room: the tail passes the batch's first record before the others pump.
  s.beginMedia(Math.floor(ring.dataCap / 4) - 100, () => {});
  const [b0, c0] = [tb.sent.length, tc.sent.length];
  subs[1]!.pump();
  subs[2]!.pump();
  assert.ok(subs[2]!.tagsDropped > 0, 'the one-by-one player fell off the tail and dropped');
  assert.equal(subs[1]!.tagsDropped, subs[2]!.tagsDropped, 'the shared-path player dropped the same');
  assert.deepEqual(tb.sent.slice(b0).map((b) => b.toString('hex')), tc.sent.slice(c0).map((b) => b.toString('hex')), 'and sent the same');
  s.close('test over');
});

test('a player far behind does not make the shared batch read and build its whole backlog: the fill stops at the high-water mark', async () => {
  const s = stream(4 * 1024 * 1024);
  s.commitMedia(9, 0, avcHeader);
  const t = new FakeTransport();
  const sub = s.addSubscriber(form, t, events(), { writeHighWaterBytes: 6000, queueMaxBytes: 1 << 30, queueMaxMs: 1e9, stallTimeoutMs: 1e9 });
  publish(s, 0, 5, 500);
  await turn();
  sub.paused = true;
  publish(s, 5, 400, 500); // ~170 KB behind, far past the 6000-byte mark
  sub.paused = false;
  const cache = s.cacheFor(form) as unknown as { builds: number };
  const before = cache.builds;
  const sent0 = t.sent.length;
  sub.pump();
  const sent = t.sent.length - sent0;
  assert.ok(sent > 0 && sent < 20, `sent ${sent} tags, up to the mark`);
  assert.ok(cache.builds - before <= sent + 20, `built ${cache.builds - before} egress tags for ${sent} sent, not the 400 behind`);
  s.close('test over');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SluiceError } from '../../src/core/errors.js';
import { Segmenter, type HlsSegment } from '../../src/hls/segmenter.js';
import { readTraf, walk } from './box-reader.js';
import { decodeOrder, readFixture } from './flv-fixture.js';
import { clipSource, feed, OPTS, WALL0 } from './hls-feed.js';

/** Samples per track id in a segment's bytes, read back from its moofs, and the first video sample's sync flag. */
function readSegment(bytes: Buffer): { counts: Map<number, number>; firstVideoSync: boolean; moofs: number } {
  const counts = new Map<number, number>();
  let firstVideoSync: boolean | undefined;
  const boxes = walk(bytes);
  for (const moof of boxes.filter((b) => b.type === 'moof')) {
    for (const traf of moof.children.filter((b) => b.type === 'traf')) {
      const t = readTraf(traf);
      counts.set(t.trackId, (counts.get(t.trackId) ?? 0) + t.samples.length);
      if (t.trackId === 1 && firstVideoSync === undefined) firstVideoSync = (t.samples[0]!.flags & 0x00010000) === 0;
    }
  }
  assert.deepEqual(boxes.map((b) => b.type), boxes.map((_, i) => (i % 2 ? 'mdat' : 'moof')), 'moof, mdat pairs');
  return { counts, firstVideoSync: firstVideoSync ?? false, moofs: boxes.length / 2 };
}

test('segments cut at the first keyframe past 2 s, parts of at most 500 ms add up to them, every sample once', { timeout: 60_000 }, async () => {
  const { src, order } = await clipSource();
  const run = feed(src, order);
  run.seg.end();
  const byMsn = new Map([...run.all, ...run.seg.takeDropped(), ...run.seg.segments].map((s) => [s.msn, s]));
  const all = [...byMsn.values()].sort((a, b) => a.msn - b.msn);
  const keys = src.videoSamples.filter((s) => s.key).map((s) => s.dts);
  assert.ok(all.length >= 4, `${all.length} segments from 8 s`);
  let videoSamples = 0;
  let audioSamples = 0;
  all.forEach((s, i) => {
    const next = all[i + 1];
    assert.ok(keys.includes(s.startDts), `segment ${s.msn} starts at a keyframe (dts ${s.startDts})`);
    if (next) {
      // Exactly where the rule says: the first keyframe at or after start + segmentMs.
      assert.equal(next.startDts, keys.find((k) => k >= s.startDts + OPTS.segmentMs), `segment ${s.msn} ends at the right keyframe`);
      assert.equal(s.durationMs, next.startDts - s.startDts, `segment ${s.msn} duration from DTS`);
      assert.equal(next.msn, s.msn + 1, 'media sequence numbers increase by one');
    }
    assert.equal(s.parts.reduce((ms, p) => ms + p.durationMs, 0), s.durationMs, `segment ${s.msn}: parts add up`);
    for (const p of s.parts) assert.ok(p.durationMs > 0 && p.durationMs <= OPTS.partMs, `part ${s.msn}.${p.index} lasts ${p.durationMs} ms`);
    assert.ok(s.parts[0]!.independent, 'first part independent');
    assert.ok(Buffer.concat(s.parts.map((p) => p.bytes)).equals(s.bytes!), 'segment bytes = its parts concatenated');
    const read = readSegment(s.bytes!);
    assert.ok(read.firstVideoSync, `segment ${s.msn}: first video sample flagged sync in its trun`);
    assert.equal(read.moofs, s.parts.length, 'one moof per part');
    s.parts.forEach((p) => assert.equal(readSegment(p.bytes).firstVideoSync, p.independent, `part ${s.msn}.${p.index} INDEPENDENT iff it starts with a sync sample`));
    videoSamples += read.counts.get(1) ?? 0;
    audioSamples += read.counts.get(2) ?? 0;
  });
  assert.equal(all[0]!.msn, 0);
  assert.equal(videoSamples, src.videoSamples.length, 'every video sample in exactly one segment');
  assert.equal(audioSamples, src.audioSamples.length, 'every audio sample in exactly one segment');
  assert.equal(all[0]!.programDateMs, WALL0 + all[0]!.startDts, 'program date time of the first sample');
  assert.equal(all[2]!.programDateMs, WALL0 + all[2]!.startDts, 'later dates follow the DTS');
});

test('the window keeps 2 segments, hands over what it drops once, and heldBytes counts what it holds', { timeout: 60_000 }, async () => {
  const { src, order } = await clipSource();
  const seen: number[] = [];
  let lastDropped = -1;
  feed(src, order, { windowSegments: 2 }, (seg, all) => {
    assert.ok(seg.segments.length <= 2, 'window size');
    for (const s of all) if (!seen.includes(s.msn)) seen.push(s.msn);
    const inWindow = seg.segments.map((s) => s.msn);
    const dropped = all.length - seg.segments.length;
    assert.deepEqual(inWindow, seen.slice(dropped), 'the window is the newest complete segments');
    if (dropped > 0) lastDropped = all[dropped - 1]!.msn;
    const held = seg.segments.reduce((n, s) => n + s.bytes!.length, 0)
      + (seg.open?.parts ?? []).reduce((n, p) => n + p.bytes.length, 0) + seg.init()!.length;
    assert.equal(seg.heldBytes, held, 'heldBytes = window + open parts + init');
  });
  assert.deepEqual(seen, seen.map((_, i) => i), 'dropped + window = every msn from 0, in order');
  assert.ok(lastDropped >= 0, 'something was dropped');
});

test('a discontinuity closes the segment, bumps the init version and flags the next segment; same headers change nothing', { timeout: 60_000 }, async () => {
  const { src, order } = await clipSource();
  const half = order.findIndex((x) => x.sample.dts >= 3000);
  const { seg } = feed(src, order, { windowSegments: 10 }, undefined, half);
  seg.setTracks({ video: src.video, audio: { ...src.audio, config: Buffer.from(src.audio.config) } });
  assert.equal(seg.currentInitVersion, 1, 'identical sequence headers (a copy) keep the init');
  const before = seg.segments.length;
  seg.discontinuity();
  assert.equal(seg.open, undefined, 'the open segment closed');
  assert.equal(seg.segments.length, before + 1);
  assert.equal(seg.currentInitVersion, 2, 'a new init version');
  for (const { kind, sample } of order.slice(0, 200)) seg.push(kind, sample, WALL0 + 60_000 + sample.dts); // dts restart at 0
  const after = seg.segments[before + 1]!;
  assert.equal(after.discontinuity, true);
  assert.equal(after.initVersion, 2);
  assert.equal(after.programDateMs, WALL0 + 60_000, 'the date anchors anew');
  assert.ok(seg.segments.every((s, i) => s.discontinuity === (i === before + 1)), 'only that segment is flagged');
  assert.ok(seg.init(1) && seg.init(2), 'both inits held while segments use them');
});

test('audio only: cut on time, segments at most 2 s and parts at most 500 ms', async () => {
  const { src } = await clipSource();
  const seg = new Segmenter({ segmentMs: 2000, partMs: 500, windowSegments: 100 });
  seg.setTracks({ audio: src.audio });
  for (const s of src.audioSamples) seg.push('audio', s);
  seg.end();
  const segs: HlsSegment[] = seg.segments;
  assert.ok(segs.length >= 4);
  for (const s of segs.slice(0, -1)) {
    assert.ok(s.durationMs <= 2000 && s.durationMs > 2000 - 500, `segment ${s.msn} lasts ${s.durationMs} ms`);
    for (const p of s.parts) assert.ok(p.durationMs <= 500 && p.independent, `part ${s.msn}.${p.index}`);
  }
});

test('the golden FLV with 200 ms segments: cut at its keyframes (video frames 0 and 5), parts within 100 ms', () => {
  const src = readFixture();
  const seg = new Segmenter({ segmentMs: 200, partMs: 100, windowSegments: 5 });
  seg.setTracks({ video: src.video, audio: src.audio });
  for (const { kind, sample } of decodeOrder(src)) seg.push(kind, sample);
  seg.end();
  assert.deepEqual(seg.segments.map((s) => s.startDts), src.videoSamples.filter((s) => s.key).map((s) => s.dts));
  for (const s of seg.segments) {
    assert.equal(s.parts.reduce((ms, p) => ms + p.durationMs, 0), s.durationMs);
    for (const p of s.parts) assert.ok(p.durationMs <= 100, `part ${s.msn}.${p.index} lasts ${p.durationMs} ms`);
  }
  assert.equal(seg.segments.reduce((n, s) => n + (readSegment(s.bytes!).counts.get(1) ?? 0), 0), src.videoSamples.length);
});

test('decode time going back without discontinuity() is a coded error; so is a sample for a missing track', async () => {
  const { src } = await clipSource();
  const seg = new Segmenter(OPTS);
  seg.setTracks({ video: src.video });
  seg.push('video', src.videoSamples[0]!);
  seg.push('video', src.videoSamples[1]!);
  const coded = (fn: () => void, code: string, re: RegExp): void => assert.throws(fn, (e: unknown) =>
    e instanceof SluiceError && e.code === code && re.test(e.message));
  coded(() => seg.push('video', src.videoSamples[0]!), 'ERR_CODEC', /dts .* after .*discontinuity/);
  coded(() => seg.push('audio', src.audioSamples[0]!), 'ERR_STREAM', /without a audio sequence header/);
  coded(() => new Segmenter({ ...OPTS, partMs: 3000 }), 'ERR_CONFIG', /partMs 3000 > segmentMs/);
  // No keyframe yet: nothing is kept.
  const late = new Segmenter(OPTS);
  late.setTracks({ video: src.video });
  late.push('video', src.videoSamples[1]!);
  late.end();
  assert.equal(late.segments.length, 0);
});

/**
 * Segments cut where the stream's writer marked them (src/hls/cut-marks.ts):
 * segmenters that start at different points of one ring must list the
 * same segments, parts and bytes (every worker serves one stream's HLS on
 * its own, and a player's requests land on any of them); parts built
 * later (remux threads) must change nothing a playlist says but when.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TagRing, TagFlag, C_HLS_DISC, C_HLS_LONGEST, C_HLS_MSN } from '../../src/core/tag-ring.js';
import { decodeMark, encodeMark, HlsCutter, type CutMark } from '../../src/hls/cut-marks.js';
import { Segmenter, type HlsSegment } from '../../src/hls/segmenter.js';
import { mediaSegment, type Fmp4Run } from '../../src/hls/fmp4.js';
import { tsSegment } from '../../src/hls/mpegts.js';
import { published } from '../../src/hls/published.js';
import { mediaPlaylist } from '../../src/hls/playlist.js';
import { RemuxPool } from '../../src/hls/remux-pool.js';
import { clipSource, NAMES, OPTS, WALL0 } from './hls-feed.js';
import type { TaggedSample } from './flv-fixture.js';

interface Marked extends TaggedSample {
  mark: CutMark | undefined;
}

/** The writer's marks over the clip in arrival order, as LiveStream.commitMedia makes them. */
function markAll(order: TaggedSample[], segmentMs: number, ring = TagRing.create(new SharedArrayBuffer(1 << 16))): Marked[] {
  const cutter = new HlsCutter(segmentMs, ring);
  return order.map((t) => {
    const flags = t.kind === 'video' && t.sample.key ? TagFlag.Key : 0;
    return { ...t, mark: decodeMark(cutter.mark(t.kind === 'video' ? 9 : 8, t.sample.dts, flags, t.sample.data), ring.ctl) };
  });
}

function segmenter(src: Awaited<ReturnType<typeof clipSource>>['src'], build?: (f: number, runs: readonly Fmp4Run[]) => Buffer | Promise<Buffer>): Segmenter {
  const seg = new Segmenter({ ...OPTS, windowSegments: 100, marked: true, ...(build ? { build } : {}) });
  seg.setTracks({ video: src.video, audio: src.audio });
  return seg;
}

function feedFrom(seg: Segmenter, marked: Marked[], from: number): void {
  for (const t of marked.slice(from)) seg.push(t.kind, t.sample, WALL0 + t.sample.dts, t.mark);
}

const byMsn = (segs: HlsSegment[]): Map<number, HlsSegment> => new Map(segs.map((s) => [s.msn, s]));

test('cut marks: a segment starts at the first keyframe once segmentMs has passed, numbered on; the number lives in the ring (a republish keeps counting, with a discontinuity)', async () => {
  const { order } = await clipSource();
  const ring = TagRing.create(new SharedArrayBuffer(1 << 16));
  const marked = markAll(order, OPTS.segmentMs, ring);
  const starts = marked.filter((m) => m.mark);
  assert.ok(starts.length >= 4, `${starts.length} segment starts in 8 s`);
  starts.forEach((m, i) => {
    assert.equal(m.kind, 'video');
    assert.ok(m.sample.key, 'marks are on keyframes');
    assert.equal(m.mark!.msn, i);
    assert.equal(m.mark!.discontinuity, false);
    assert.equal(m.mark!.dsn, 0);
    if (i > 0) assert.ok(m.sample.dts - starts[i - 1]!.sample.dts >= OPTS.segmentMs, 'not before segmentMs');
  });
  assert.equal(ring.ctl[C_HLS_MSN], starts.length, 'the next number is kept in the ring');
  // A second publisher of the same ring: numbers go on, the first start says discontinuity.
  const again = markAll(order.slice(0, 300), OPTS.segmentMs, ring).filter((m) => m.mark);
  assert.deepEqual(again[0]!.mark, { msn: starts.length, discontinuity: true, dsn: 1 });
  assert.deepEqual(again[1]!.mark, { msn: starts.length + 1, discontinuity: false, dsn: 1 });
  assert.equal(ring.ctl[C_HLS_DISC], 1, 'the discontinuity count is kept in the ring');
  assert.equal(decodeMark(0, ring.ctl), undefined);
  // The mark holds only low bits: a reader rebuilds the numbers from the ring's counts, past any wrap of those bits.
  const ctl = new Int32Array(16);
  for (const [msn, dsn] of [[123456, 3], [(1 << 21) + 5, 300], [0x7fffff00, 0x7fffff00]] as const) {
    ctl[C_HLS_MSN] = msn + 40;
    ctl[C_HLS_DISC] = dsn + 2;
    assert.deepEqual(decodeMark(encodeMark({ msn, discontinuity: true, dsn }), ctl), { msn, discontinuity: true, dsn });
  }
});

test('a changed sequence header cuts at the next keyframe (the segmenter needs a new init there)', async () => {
  const { order } = await clipSource();
  const cutter = new HlsCutter(OPTS.segmentMs, TagRing.create(new SharedArrayBuffer(1 << 16)));
  cutter.mark(9, 0, TagFlag.SequenceHeader, Buffer.from([0x17, 0, 0, 0, 0, 1, 2]));
  const keys = order.filter((t) => t.kind === 'video' && t.sample.key);
  assert.ok(cutter.mark(9, keys[0]!.sample.dts, TagFlag.Key, keys[0]!.sample.data) !== 0, 'first keyframe starts segment 0');
  // The same header again changes nothing; a different one cuts at the very next keyframe, before segmentMs.
  cutter.mark(9, 10, TagFlag.SequenceHeader, Buffer.from([0x17, 0, 0, 0, 0, 1, 2]));
  assert.equal(cutter.mark(9, keys[0]!.sample.dts + 200, TagFlag.Key, keys[0]!.sample.data), 0, 'same header: no cut before segmentMs');
  cutter.mark(9, 20, TagFlag.SequenceHeader, Buffer.from([0x17, 0, 0, 0, 0, 1, 3]));
  assert.notEqual(cutter.mark(9, keys[0]!.sample.dts + 240, TagFlag.Key, keys[0]!.sample.data), 0, 'new header: cut at the next keyframe');
});

test('a republish is a discontinuity every segmenter numbers alike: EXT-X-DISCONTINUITY, then DISCONTINUITY-SEQUENCE from the ring once it slides out', async () => {
  const { src, order } = await clipSource();
  const ring = TagRing.create(new SharedArrayBuffer(1 << 16));
  const first = markAll(order, OPTS.segmentMs, ring);
  // The second publisher's timestamps are re-based to go on (as LiveStream does); the ring is the same.
  const shift = order[order.length - 1]!.sample.dts + 40;
  const again = order.map((t) => ({ ...t, sample: { ...t.sample, dts: t.sample.dts + shift } }));
  const marked = [...first, ...markAll(again, OPTS.segmentMs, ring)];
  const starts = marked.flatMap((m, i) => (m.mark ? [i] : []));
  const disc = starts.find((i) => marked[i]!.mark!.discontinuity)!;
  assert.equal(starts.filter((i) => marked[i]!.mark!.discontinuity).length, 1, 'one discontinuity: the republish');
  const run = (from: number, windowSegments: number): Segmenter => {
    const seg = new Segmenter({ ...OPTS, windowSegments, marked: true, longestMs: () => ring.ctl[C_HLS_LONGEST]! });
    seg.setTracks({ video: src.video, audio: src.audio });
    feedFrom(seg, marked, from);
    seg.end();
    return seg;
  };
  const whole = run(0, 100);
  const m = marked[disc]!.mark!;
  assert.deepEqual(whole.segments.filter((s) => s.discontinuity).map((s) => s.msn), [m.msn], 'the republish\'s first segment, only');
  assert.equal(whole.discontinuitySequence, 0);
  assert.match(mediaPlaylist(whole, { names: NAMES }), /#EXT-X-DISCONTINUITY\n/);
  // A reader that starts at the discontinuity lists it first; its sequence still reads 0.
  const atDisc = run(disc, 100);
  assert.equal(atDisc.segments[0]!.discontinuity, true);
  assert.equal(atDisc.discontinuitySequence, 0);
  // Once it slides out, early and late readers both say 1: the late one never saw it, the ring's count did.
  const early = run(0, 3);
  const late = run(starts[starts.indexOf(disc) + 1]!, 3);
  assert.equal(early.discontinuitySequence, 1);
  assert.equal(late.discontinuitySequence, 1);
  // The target covers the longest segment either saw (the republish closed one the late reader never had): the ring keeps it.
  assert.ok(ring.ctl[C_HLS_LONGEST]! > OPTS.segmentMs, `the segment the republish closed: ${ring.ctl[C_HLS_LONGEST]} ms`);
  assert.equal(mediaPlaylist(late, { names: NAMES }), mediaPlaylist(early, { names: NAMES }), 'same playlist');
  assert.match(mediaPlaylist(early, { names: NAMES }), /#EXT-X-DISCONTINUITY-SEQUENCE:1\n/);
});

test('segmenters that start at different marks list the same segments, parts and bytes for every number they share', async () => {
  const { src, order } = await clipSource();
  const marked = markAll(order, OPTS.segmentMs);
  // An encoder whose audio runs ahead: the first audio frame that decodes after the second mark's keyframe arrives just before it.
  const mark1 = marked.findIndex((m) => m.mark?.msn === 1);
  const ahead = marked.findIndex((m, i) => i > mark1 && m.kind === 'audio');
  assert.ok(marked[ahead]!.sample.dts >= marked[mark1]!.sample.dts);
  marked.splice(mark1, 0, ...marked.splice(ahead, 1));
  const early = segmenter(src);
  feedFrom(early, marked, 0);
  early.end();
  const starts = marked.flatMap((m, i) => (m.mark ? [i] : []));
  // A late joiner begins at the record of the second mark: it never saw what arrived before.
  const late = segmenter(src);
  feedFrom(late, marked, starts[1]!);
  late.end();
  const a = byMsn(early.segments);
  const b = byMsn(late.segments);
  assert.equal(late.segments[0]!.msn, 1, 'the late one starts with the mark\'s number');
  assert.ok(b.size >= 2, `${b.size} segments in common`);
  for (const [msn, s] of b) {
    const e = a.get(msn)!;
    assert.ok(e, `segment ${msn} on both`);
    assert.equal(s.durationMs, e.durationMs, `segment ${msn} duration`);
    assert.equal(s.programDateMs, e.programDateMs, `segment ${msn} date`);
    assert.deepEqual(s.parts.map((p) => p.durationMs), e.parts.map((p) => p.durationMs), `segment ${msn} parts`);
    assert.ok(s.bytes!.equals(e.bytes!), `segment ${msn} bytes identical`);
  }
  // (With a DTS split the early one would put the moved frame in segment 1, which the late one never saw: checked by mutation.)
});

test('parts built later (a remux thread) list nothing before they are built, and end with the same playlist as built at once', async () => {
  const { src, order } = await clipSource();
  const marked = markAll(order, OPTS.segmentMs);
  const sync = segmenter(src);
  feedFrom(sync, marked, 0);
  sync.end();

  const waiting: { bytes: Buffer; done: (b: Buffer) => void }[] = [];
  const deferred = segmenter(src, (f, runs) => {
    const bytes = mediaSegment(f, runs);
    return new Promise<Buffer>((done) => waiting.push({ bytes, done }));
  });
  let checked = 0;
  for (const t of marked) {
    deferred.push(t.kind, t.sample, WALL0 + t.sample.dts, t.mark);
    // Answer in order, a few at a time, checking the view in between.
    if (waiting.length > 1) {
      const view = published(deferred);
      for (const s of [...view.segments, ...(view.open ? [view.open] : [])]) for (const p of s.parts) assert.ok(p.built, `listed part ${p.msn}.${p.index} is built`);
      for (const s of view.segments) assert.ok(s.bytes, `listed segment ${s.msn} has its bytes`);
      const hint = view.nextPart;
      const hinted = [...deferred.segments, ...(deferred.open ? [deferred.open] : [])].find((s) => s.msn === hint.msn)?.parts[hint.index];
      assert.ok(!hinted || !hinted.built, 'the hint names a part not yet built');
      checked++;
      for (const w of waiting.splice(0, 1)) w.done(w.bytes);
      await new Promise((r) => setImmediate(r));
    }
  }
  deferred.end();
  assert.equal(published(deferred).ended, false, 'no ENDLIST while parts are pending');
  for (const w of waiting.splice(0)) w.done(w.bytes);
  await new Promise((r) => setImmediate(r));
  assert.ok(checked > 10, `${checked} checks`);
  assert.equal(deferred.pending, 0);
  assert.equal(mediaPlaylist(published(deferred), { names: NAMES }), mediaPlaylist(sync, { names: NAMES }), 'same playlist once built');
  for (const [i, s] of deferred.segments.entries()) assert.ok(s.bytes!.equals(sync.segments[i]!.bytes!), `segment ${s.msn} bytes`);
});

test('the remux pool builds from ring offsets the bytes built in place, and refuses a part whose ring was lapped', { timeout: 30_000 }, async () => {
  const { src } = await clipSource();
  const ring = TagRing.create(new SharedArrayBuffer(1 << 17));
  // Put the first frames in the ring and point the samples at its bytes.
  const samples = src.videoSamples.slice(0, 5).map((s) => {
    const at = ring.reserve(s.data.length);
    ring.data.set(s.data, at);
    const seq = ring.commit(9, s.dts, s.key ? TagFlag.Key : 0);
    return { ...s, data: ring.data.subarray(at, at + s.data.length), ref: seq };
  });
  const runs: Fmp4Run[] = [{ track: src.video, samples, endDts: src.videoSamples[5]!.dts }, { track: src.audio, samples: src.audioSamples.slice(0, 3) }];
  const pool = new RemuxPool(1);
  try {
    const built = await pool.build(7, runs, ring);
    assert.ok(built.bytes.equals(mediaSegment(7, runs)), 'pool bytes = in-place bytes');
    assert.equal(built.ts, undefined, 'no TS unless asked');
    const tracks = [src.video, src.audio];
    const withTs = await pool.build(7, runs, ring, tracks);
    assert.ok(withTs.bytes.equals(built.bytes) && withTs.ts!.equals(tsSegment(runs, { tracks })), 'pool TS = in-place TS');
    // A part TS cannot carry (here: an Opus track) still gives its fMP4 bytes, and says why TS failed.
    const opus = { ...src.audio, codec: 'opus' as const };
    const noTs = await pool.build(7, runs.map((r) => (r.track === src.audio ? { ...r, track: opus } : r)), ring, [src.video, opus]);
    assert.equal(noTs.ts, undefined);
    assert.match(noTs.tsError ?? '', /not carried in MPEG-TS/);
    // Fill the ring until the samples' records are retired: the build must fail rather than serve overwritten bytes.
    const filler = Buffer.alloc(8000);
    while (ring.intact(samples[0]!.ref!)) ring.append(9, 0, 0, filler);
    await assert.rejects(pool.build(8, runs, ring), /overwritten/);
  } finally {
    await pool.close();
  }
});

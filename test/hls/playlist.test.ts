import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { blockingReload, mediaPlaylist } from '../../src/hls/playlist.js';
import type { Segmenter } from '../../src/hls/segmenter.js';
import { ffmpegMd5, ffprobe, track } from './ffmpeg-check.js';
import { clipSource, feed, NAMES, OPTS, WALL0 } from './hls-feed.js';
import { tmpFile } from '../helpers/ffmpeg.js';

/** The value of the first `#TAG:` line, or undefined. */
function tag(text: string, name: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith(`#${name}:`))?.slice(name.length + 2);
}
const attr = (value: string, key: string): string | undefined => new RegExp(`(?:^|,)${key}=("[^"]*"|[^,]*)`).exec(value)?.[1]?.replace(/"/g, '');

test('live playlist: header tags, durations within the targets, consecutive URIs, the preload hint names the next part', { timeout: 60_000 }, async () => {
  const { src, order } = await clipSource();
  let hint: string | undefined;
  let hintsChecked = 0;
  let lastParts = 0;
  feed(src, order, {}, (seg) => {
    const text = mediaPlaylist(seg, { names: NAMES });
    const lines = text.trimEnd().split('\n');
    assert.equal(lines[0], '#EXTM3U');
    assert.equal(tag(text, 'EXT-X-VERSION'), '6');
    const target = Number(tag(text, 'EXT-X-TARGETDURATION'));
    const partTarget = Number(attr(tag(text, 'EXT-X-PART-INF')!, 'PART-TARGET'));
    const control = tag(text, 'EXT-X-SERVER-CONTROL')!;
    assert.equal(attr(control, 'CAN-BLOCK-RELOAD'), 'YES');
    assert.ok(Number(attr(control, 'PART-HOLD-BACK')) >= 3 * partTarget, 'PART-HOLD-BACK >= 3 part targets');
    const extinf = lines.flatMap((l, i) => (l.startsWith('#EXTINF:') ? [{ d: parseFloat(l.slice(8)), uri: lines[i + 1]! }] : []));
    for (const e of extinf) assert.ok(Math.round(e.d) <= target, `EXTINF ${e.d} rounds within TARGETDURATION ${target}`);
    const msn0 = Number(tag(text, 'EXT-X-MEDIA-SEQUENCE'));
    assert.deepEqual(extinf.map((e) => e.uri), seg.segments.map((_, i) => NAMES.segment(msn0 + i)), 'segment URIs from MEDIA-SEQUENCE on');
    const parts = lines.filter((l) => l.startsWith('#EXT-X-PART:')).map((l) => l.slice('#EXT-X-PART:'.length));
    for (const p of parts) assert.ok(Number(attr(p, 'DURATION')) <= partTarget, `part ${p} within PART-TARGET`);
    if (seg.segments.length > 0) assert.ok(text.includes(`#EXT-X-PROGRAM-DATE-TIME:${new Date(WALL0 + seg.segments[0]!.startDts).toISOString()}`));
    // When a part appears, it is the one the previous playlist hinted at.
    const newest = parts[parts.length - 1];
    if (hint !== undefined && parts.length !== lastParts && newest) {
      assert.equal(attr(newest, 'URI'), hint, 'the new part is the hinted one');
      hintsChecked++;
    }
    lastParts = parts.length;
    hint = attr(tag(text, 'EXT-X-PRELOAD-HINT') ?? '', 'URI');
    assert.equal(hint, NAMES.part(seg.nextPart.msn, seg.nextPart.index));
  });
  assert.ok(hintsChecked > 10, `${hintsChecked} hints checked`);
});

test('blocking reload: past and current parts are ready, the next one waits, too far ahead is a bad request', { timeout: 60_000 }, async () => {
  const { src, order } = await clipSource();
  const { seg } = feed(src, order, {}, undefined, order.findIndex((x) => x.sample.dts >= 5000));
  const open = seg.open!;
  const last = open.parts[open.parts.length - 1]!;
  assert.ok(last.index >= 1, 'mid-segment');
  const complete = seg.segments[seg.segments.length - 1]!;
  assert.equal(blockingReload(seg, complete.msn), 'ready', 'a complete segment');
  assert.equal(blockingReload(seg, complete.msn, 0), 'ready', 'a past part');
  assert.equal(blockingReload(seg, 0, 2), 'ready', 'a part older than the window');
  assert.equal(blockingReload(seg, open.msn, last.index), 'ready', 'the newest part');
  assert.equal(blockingReload(seg, open.msn, last.index + 1), 'wait', 'the next part');
  assert.equal(blockingReload(seg, open.msn), 'wait', 'the segment in progress');
  assert.equal(blockingReload(seg, open.msn + 1, 0), 'wait', 'the next segment\'s first part');
  assert.equal(blockingReload(seg, open.msn + 2), 'wait', 'two segments ahead still waits');
  assert.equal(blockingReload(seg, open.msn + 3), 'bad-request', 'more than two segments ahead');
  // Advance Part Limit for a 0.5 s part target: 3 / 0.5 = 6 parts.
  assert.equal(blockingReload(seg, open.msn, last.index + 6), 'wait');
  assert.equal(blockingReload(seg, open.msn, last.index + 7), 'bad-request');
});

test('a discontinuity writes EXT-X-DISCONTINUITY and a new EXT-X-MAP, then DISCONTINUITY-SEQUENCE once it slides out', { timeout: 60_000 }, async () => {
  const { src, order } = await clipSource();
  const { seg } = feed(src, order, {}, undefined, order.findIndex((x) => x.sample.dts >= 3000));
  seg.discontinuity();
  const republish = (n: number, s: Segmenter): void => {
    for (const { kind, sample } of order.slice(0, n)) s.push(kind, sample, WALL0 + 60_000 + sample.dts);
  };
  republish(order.findIndex((x) => x.sample.dts >= 2500), seg);
  let text = mediaPlaylist(seg, { names: NAMES });
  const lines = text.split('\n');
  const at = lines.indexOf('#EXT-X-DISCONTINUITY');
  assert.ok(at > 0, text);
  assert.equal(lines[at + 1], '#EXT-X-MAP:URI="init-2.mp4"', 'the new init right after');
  assert.ok(lines.indexOf('#EXT-X-MAP:URI="init-1.mp4"') < at, 'the old init before');
  assert.equal(tag(text, 'EXT-X-DISCONTINUITY-SEQUENCE'), undefined, 'none slid out yet');
  assert.equal(text.includes('EXT-X-ENDLIST'), false, 'live');
  for (const { kind, sample } of order.filter((x) => x.sample.dts >= 2500)) seg.push(kind, sample);
  seg.end();
  text = mediaPlaylist(seg, { names: NAMES });
  assert.equal(tag(text, 'EXT-X-DISCONTINUITY-SEQUENCE'), '1', text);
  assert.ok(!text.includes('init-1.mp4') && seg.init(1) === undefined, 'the old init is gone from playlist and memory');
  assert.ok(text.endsWith('#EXT-X-ENDLIST\n'));
});

test('ffmpeg plays the LL-HLS playlist: one h264 and one aac stream, the window\'s pictures exactly', { timeout: 60_000 }, async () => {
  const { file, src, order } = await clipSource();
  const { seg } = feed(src, order, OPTS);
  seg.end(); // ENDLIST: else ffmpeg's HLS demuxer keeps reloading a live playlist
  const dir = tmpFile('hls-window');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, NAMES.init(1)!), seg.init(1)!);
  for (const s of seg.segments) writeFileSync(path.join(dir, NAMES.segment(s.msn)), s.bytes!);
  const playlist = path.join(dir, 'index.m3u8');
  const text = mediaPlaylist(seg, { names: NAMES });
  assert.ok(text.includes('#EXT-X-PART:'), 'with its LL-HLS tags');
  writeFileSync(playlist, text);

  const streams = await ffprobe(playlist);
  assert.deepEqual(streams.map((s) => [s.codec_type, s.codec_name, s.width]).sort(), [['audio', 'aac', undefined], ['video', 'h264', 160]]);
  const [got, ref] = await Promise.all([ffmpegMd5(playlist, ['-map', '0:v']), ffmpegMd5(file, ['-map', '0:v'])]);
  assert.equal(got.errors, '', 'no demuxer or decoder errors');
  // Closed GOPs: the window's pictures are the source's from its first keyframe on.
  const skipped = src.videoSamples.findIndex((s) => s.dts === seg.segments[0]!.startDts);
  const want = track(ref.md5, 'video').frames;
  assert.ok(skipped > 0, 'the window starts after the clip does');
  assert.deepEqual(track(got.md5, 'video').frames, want.slice(skipped), `decoded pictures ${skipped}..${want.length}`);
  const audio = await ffmpegMd5(playlist, ['-map', '0:a']);
  assert.equal(audio.errors, '', 'audio decodes without errors');
  assert.ok(track(audio.md5, 'audio').frames.length > 100, 'audio frames');
});

test('delta updates: CAN-SKIP-UNTIL of six targets; _HLS_skip replaces the segments wholly before the boundary with EXT-X-SKIP, the rest as in the full playlist', { timeout: 60_000 }, async () => {
  const { src, order } = await clipSource();
  const { seg } = feed(src, order, { segmentMs: 1000, windowSegments: 20 });
  const full = mediaPlaylist(seg, { names: NAMES, deltaUpdates: true });
  const delta = mediaPlaylist(seg, { names: NAMES, deltaUpdates: true, skip: true });
  assert.match(full, /#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6\.000,/, full);
  assert.equal(tag(full, 'EXT-X-VERSION'), '6');
  assert.equal(tag(full, 'EXT-X-SKIP'), undefined);
  assert.equal(tag(delta, 'EXT-X-VERSION'), '9', 'EXT-X-SKIP needs version 9');
  assert.equal(tag(delta, 'EXT-X-MEDIA-SEQUENCE'), tag(full, 'EXT-X-MEDIA-SEQUENCE'), 'the sequence still names the first segment');
  const skipped = Number(/^#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)$/m.exec(delta)?.[1]);
  const uris = (t: string): string[] => t.split('\n').filter((l) => /^seg-\d+\.m4s$/.test(l));
  assert.ok(skipped >= 1, delta);
  assert.deepEqual(uris(delta), uris(full).slice(skipped), 'the segments after the skipped ones, as listed in full');
  // Nothing within CAN-SKIP-UNTIL of the end is skipped; the first kept segment brings its EXT-X-MAP.
  const edge = [...seg.segments, ...(seg.open ? [seg.open] : [])].reduce((ms, s) => ms + s.durationMs, 0);
  const skippedMs = seg.segments.slice(0, skipped).reduce((ms, s) => ms + s.durationMs, 0);
  assert.ok(skippedMs <= edge - 6000 && skippedMs + seg.segments[skipped]!.durationMs > edge - 6000, `${skippedMs} ms skipped of ${edge}`);
  assert.ok(delta.indexOf('#EXT-X-MAP') > delta.indexOf('#EXT-X-SKIP'), 'EXT-X-MAP follows the skip');
  assert.equal(mediaPlaylist(seg, { names: NAMES, skip: true }), mediaPlaylist(seg, { names: NAMES }), 'no skip unless delta updates are offered');
});

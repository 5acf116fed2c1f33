/**
 * Real decoders read what the fMP4 writer produced from a real FLV: init +
 * keyframe-cut media segments concatenated into one file (what an HLS
 * client feeds its demuxer), probed by ffprobe and decoded by ffmpeg, frame
 * for frame against the source FLV.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { initSegment, mediaSegment } from '../../src/hls/fmp4.js';
import { makeClip, tmpFile } from '../helpers/ffmpeg.js';
import { ffmpegMd5, ffprobe, track } from './ffmpeg-check.js';
import { FIXTURE, readFixture, segmentsAtKeyframes } from './flv-fixture.js';

/** init.mp4 and init + segments[from..] as one file, from an FLV; returns the latter. */
function writeFmp4(name: string, flv: string, from = 0): { file: string; segments: number } {
  const src = readFixture(flv);
  const segments = segmentsAtKeyframes(src);
  const init = initSegment([src.video, src.audio]);
  const media = segments.map((runs, i) => mediaSegment(i + 1, runs)).slice(from);
  writeFileSync(tmpFile(`${name}-init.mp4`), init);
  const file = tmpFile(`${name}.mp4`);
  writeFileSync(file, Buffer.concat([init, ...media]));
  return { file, segments: segments.length };
}

/**
 * The golden fixture (constant composition offset), and a libx264 clip
 * with 2 B-frames and a closed 10-frame GOP whose offsets vary frame to
 * frame: five segments, and decode order differs from presentation order.
 */
async function sources(): Promise<Array<{ name: string; flv: string }>> {
  const clip = await makeClip({ seconds: 2, fps: 25, gop: 10, width: 160, height: 120 });
  return [{ name: 'fixture', flv: FIXTURE }, { name: 'bframes', flv: clip.file }];
}

test('ffprobe sees one h264 160x120 and one aac stream in init + segments', { timeout: 30_000 }, async () => {
  for (const { name, flv } of await sources()) {
    const { file, segments } = writeFmp4(`probe-${name}`, flv);
    assert.ok(segments >= 2, `${name}: ${segments} segments cut at keyframes`);
    const streams = await ffprobe(file);
    assert.deepEqual(
      streams.map((s) => [s.codec_type, s.codec_name, s.width, s.height]).sort(),
      [['audio', 'aac', undefined, undefined], ['video', 'h264', 160, 120]],
      name,
    );
  }
});

test('ffmpeg demuxes the fMP4 into the FLV\'s packets, byte for byte and with the same presentation times', { timeout: 30_000 }, async () => {
  for (const { name, flv } of await sources()) {
    const { file } = writeFmp4(`copy-${name}`, flv);
    const [mp4, ref] = await Promise.all([ffmpegMd5(file, ['-c', 'copy']), ffmpegMd5(flv, ['-c', 'copy'])]);
    assert.equal(mp4.errors, '', `${name}: no demuxer complaints`);
    for (const kind of ['video', 'audio'] as const) {
      const got = track(mp4.md5, kind);
      const want = track(ref.md5, kind);
      assert.ok(want.frames.length > 5, `${name} ${kind}: the source has packets`);
      assert.deepEqual(got.frames, want.frames, `${name} ${kind}: packets (size, md5)`);
      assert.deepEqual(got.pts, want.pts, `${name} ${kind}: pts (ms from the first)`);
      assert.deepEqual(got.cts, want.cts, `${name} ${kind}: composition offsets (ms)`);
    }
  }
});

test('ffmpeg decodes the fMP4 without errors into the same pictures and sound as the FLV', { timeout: 30_000 }, async () => {
  for (const { name, flv } of await sources()) {
    const { file } = writeFmp4(`decode-${name}`, flv);
    for (const [kind, map] of [['video', '0:v'], ['audio', '0:a']] as const) {
      const [mp4, ref] = await Promise.all([ffmpegMd5(file, ['-map', map]), ffmpegMd5(flv, ['-map', map])]);
      assert.equal(mp4.errors, '', `${name} ${kind}: no decoder errors`);
      const got = track(mp4.md5, kind);
      const want = track(ref.md5, kind);
      assert.ok(want.frames.length > 5, `${name} ${kind}: the source decodes to frames`);
      assert.deepEqual(got.frames, want.frames, `${name} ${kind}: decoded frames (size, md5), frame for frame`);
    }
  }
});

test('a player joining at the third segment decodes exactly the FLV\'s pictures from that keyframe on', { timeout: 30_000 }, async () => {
  const clip = (await sources())[1]!;
  const { file, segments } = writeFmp4('join', clip.flv, 2);
  const [mp4, ref] = await Promise.all([ffmpegMd5(file, ['-map', '0:v']), ffmpegMd5(clip.flv, ['-map', '0:v'])]);
  assert.equal(mp4.errors, '', 'no decoder errors');
  const got = track(mp4.md5, 'video').frames;
  const want = track(ref.md5, 'video').frames;
  // The closed 10-frame GOP: segment k starts at picture 10 k, and decodes without the ones before.
  assert.equal(got.length, want.length - 20, `${segments - 2} of ${segments} segments`);
  assert.deepEqual(got, want.slice(20), 'decoded frames from the third keyframe on');
});

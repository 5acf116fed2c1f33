/**
 * HLS of enhanced RTMP sources: real HEVC (libx265, B-frames) and AV1
 * (libaom-av1) clips published in ExVideoTagHeader framing ('hvc1' /
 * 'av01') come out of the HLS route as fMP4 with hvc1+hvcC / av01+av1C
 * sample entries, and what was served decodes (ffmpeg) to exactly the
 * clip's pictures from the first segment's keyframe on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withServer, streamOf } from '../helpers/server-harness.js';
import { sleep, waitFor } from '../helpers/net.js';
import { clipPictures, enhancedClip, type EnhancedCodec } from '../helpers/enhanced-clip.js';
import { runFfmpeg } from '../helpers/ffmpeg.js';
import { parseAv1Config } from '../../src/protocol/av1.js';
import { ffprobe } from './ffmpeg-check.js';
import { copyWindow, getOk } from './local-window.js';

const FPS = 25;
const SAMPLE_ENTRY = { hevc: ['hvc1', 'hvcC', 'hevc'], av1: ['av01', 'av1C', 'av1'] } as const;

for (const codec of ['hevc', 'av1'] as EnhancedCodec[]) {
  test(`HLS of an E-RTMP ${codec} stream: fMP4 with ${SAMPLE_ENTRY[codec][0]}, decoding to the clip's pictures`, { timeout: 90_000 }, async () => {
    const clip = await enhancedClip(codec, 5, FPS, FPS);
    await withServer({ hls: { segmentMs: 1000, partMs: 500 } }, async (h) => {
      const name = `hls-${codec}`;
      const pub = await h.client();
      await pub.publish(name);
      pub.setDataFrame(clip.meta);
      pub.sendMedia(9, 0, clip.sequenceStart);
      for (const [i, f] of clip.frames.entries()) {
        pub.sendMedia(9, f.ts, f.data);
        if (i % 5 === 4) await sleep(2);
      }
      await waitFor(() => (streamOf(h.srv, name)?.counters.tagsIn ?? 0) >= clip.frames.length + 1, 5000, 'the server to take every frame');

      const base = `http://127.0.0.1:${h.srv.httpPort}/live`;
      const playlist = (await getOk(`${base}/${name}.fmp4.m3u8`)).toString();
      const uris = [...playlist.matchAll(/^(hls-\w+\/seg-\d+\.m4s)$/gm)].map((m) => m[1]!);
      const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)?.[1];
      assert.ok(init && uris.length >= 3, playlist);

      // The init declares the codec with its configuration record as published.
      const initBytes = await getOk(`${base}/${init}`);
      const [entry, configBox, ffName] = SAMPLE_ENTRY[codec];
      assert.ok(initBytes.includes(Buffer.from(entry, 'latin1')), `init has a ${entry} sample entry`);
      const config = clip.sequenceStart.subarray(5);
      const at = initBytes.indexOf(Buffer.from(configBox, 'latin1'));
      assert.ok(at > 0 && initBytes.subarray(at + 4, at + 4 + config.length).equals(config), `${configBox} is the record as published`);
      if (codec === 'av1') assert.deepEqual([parseAv1Config(config).width, parseAv1Config(config).height], [160, 120], 'av1C sequence header size');

      const local = await copyWindow(`hls-${codec}`, base, name, playlist, init, uris);

      const streams = await ffprobe(local);
      assert.deepEqual(streams.map((s) => [s.codec_type, s.codec_name, s.width, s.height]), [['video', ffName, 160, 120]]);
      const out = await runFfmpeg(['-loglevel', 'error', '-i', local, '-map', '0:v', '-f', 'framemd5', 'pipe:1'], 60_000);
      const got = out.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').pop()!.trim());
      const want = await clipPictures(clip);
      // The window starts at some keyframe; from there every picture of the listed segments, in order.
      const from = want.indexOf(got[0]!);
      assert.ok(from >= 0 && from % FPS === 0, `the first picture is a keyframe of the clip (${from})`);
      assert.deepEqual(got, want.slice(from, from + got.length), `pictures ${from}..${from + got.length}`);
      assert.ok(got.length >= 3 * FPS, `${got.length} pictures`);
    });
  });
}

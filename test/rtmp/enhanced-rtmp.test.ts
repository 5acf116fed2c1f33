// Enhanced RTMP with real bitstreams: HEVC (libx265) and AV1 (libaom-av1)
// clips from the bundled ffmpeg, published by the project's RTMP client in
// ExVideoTagHeader framing ('hvc1' / 'av01'; ffmpeg 4.1 cannot publish
// E-RTMP, and Debian 12's 5.1 cannot either). Players of every transport
// join mid-GOP and must get: onMetaData, then the SequenceStart sent once
// at the start (sticky), then the GOP from its keyframe, every tag
// byte-identical to what was sent and spaced as sent, up to SequenceEnd.
// What they got must decode (ffmpeg) to exactly the clip's pictures from
// that keyframe on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withServer, streamOf } from '../helpers/server-harness.js';
import { getFlv, wsFlv } from '../helpers/flv-players.js';
import { sleep, waitFor } from '../helpers/net.js';
import { SET_DATA_FRAME_BYTES } from '../helpers/synthetic-media.js';
import { clipPictures, enhancedClip, receivedPictures, type EnhancedCodec } from '../helpers/enhanced-clip.js';
import { assertSameTags, type TagLike } from '../helpers/tag-asserts.js';

const SECONDS = 3;
const FPS = 25;
const GOP = FPS;
/** Frames sent before the players join: mid second GOP. */
const BEFORE_JOIN = GOP + 7;

for (const codec of ['hevc', 'av1'] as EnhancedCodec[]) {
  test(`E-RTMP ${codec}: RTMP, HTTP-FLV and WS-FLV players joining mid-GOP get metadata, the sticky SequenceStart and the GOP from its keyframe, byte-identical, decodable`, { timeout: 60_000 }, async () => {
    const clip = await enhancedClip(codec, SECONDS, FPS, GOP);
    const keys = clip.frames.flatMap((f, i) => (f.key ? [i] : []));
    assert.deepEqual(keys.slice(0, 3), [0, GOP, 2 * GOP], `${codec}: the encoder put keyframes every ${GOP} frames`);
    if (codec === 'hevc') assert.ok(clip.track.samples.some((s) => s.cts > 0), 'the HEVC clip has B-frames (non-zero CompositionTime)');

    await withServer({ player: { mergeWriteMs: 0 } }, async (h) => {
      const name = `e-${codec}`;
      const pub = await h.client();
      await pub.publish(name);
      const meta = pub.setDataFrame(clip.meta).subarray(SET_DATA_FRAME_BYTES);
      pub.sendMedia(9, 0, clip.sequenceStart);
      const sendFrames = async (from: number, to: number): Promise<void> => {
        for (let i = from; i < to; i++) {
          pub.sendMedia(9, clip.frames[i]!.ts, clip.frames[i]!.data);
          if (i % 5 === 4) await sleep(2);
        }
      };
      await sendFrames(0, BEFORE_JOIN);
      const stream = () => streamOf(h.srv, name);
      await waitFor(() => (stream()?.counters.tagsIn ?? 0) >= BEFORE_JOIN + 1, 3000, 'the server to take the first frames');
      assert.equal(stream()?.info.videoCodec, codec, 'the stream reports the FourCC codec');

      const { rec } = await h.player(name);
      const flvUrl = `http://127.0.0.1:${h.srv.httpPort}/live/${name}.flv`;
      const http = getFlv(flvUrl);
      const ws = wsFlv(flvUrl.replace('http:', 'ws:'));
      try {
        await waitFor(() => stream()?.subscribers.size === 3, 5000, 'three players attached');
        await sendFrames(BEFORE_JOIN, clip.frames.length);
        pub.sendMedia(9, clip.frames.at(-1)!.ts + 40, clip.sequenceEnd);

        const isEnd = (t: TagLike): boolean => t.type === 9 && t.data.equals(clip.sequenceEnd);
        const players = () => [
          { what: 'RTMP', tags: rec.media().map((m) => ({ type: m.type, ts: m.ts, data: m.data })) },
          { what: 'HTTP-FLV', tags: http.flv.tags },
          { what: 'WS-FLV', tags: ws.flv.tags },
        ];
        await waitFor(() => players().every((p) => p.tags.some(isEnd)), 10_000, 'SequenceEnd at every player');

        // The latest GOP start at join time; every tag from it is sent as-is.
        const first = keys.filter((k) => k < BEFORE_JOIN).at(-1)!;
        const want = [clip.sequenceStart, ...clip.frames.slice(first).map((f) => f.data), clip.sequenceEnd];
        const wantPictures = (await clipPictures(clip)).slice(first);
        for (const p of players()) {
          const what = `${codec} ${p.what}`;
          const video = p.tags.filter((t) => t.type === 9);
          assert.ok(p.tags[0]?.type === 18 && p.tags[0].data.equals(meta), `${what}: onMetaData first, as sent`);
          assertSameTags(video, want.map((data) => ({ type: 9, ts: 0, data })), what, { timestamps: false });
          // Frames keep their spacing (each form re-bases the player's timeline, never the steps).
          const frames = video.slice(1, -1);
          for (let i = 1; i < frames.length; i++) {
            const sent = clip.frames[first + i]!.ts - clip.frames[first + i - 1]!.ts;
            assert.equal(frames[i]!.ts - frames[i - 1]!.ts, sent, `${what}: frame ${first + i} spaced as sent`);
          }
          const pictures = await receivedPictures(clip, video[0]!.data, frames.map((t) => t.data), what);
          assert.deepEqual(pictures, wantPictures, `${what}: decodes to the clip's pictures from frame ${first}`);
        }
      } finally {
        http.close();
        ws.close();
      }
    });
  });
}

/**
 * Playlist delta updates on the route (rfc8216bis 6.2.5.1): with a window
 * longer than six target durations the media playlist offers
 * CAN-SKIP-UNTIL, and `_HLS_skip=YES` (alone or with a blocking reload)
 * answers with EXT-X-SKIP in place of the oldest segments; with the
 * default window (6 x 2 s, nothing that old) it is not offered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withServer } from '../helpers/server-harness.js';
import { waitFor } from '../helpers/net.js';
import { makeClip } from '../helpers/ffmpeg.js';
import { readClip } from '../helpers/clip-tags.js';
import { clipFrames, sendFrames, sendHeaders } from './clip-feed.js';

const segments = (t: string): string[] => t.split('\n').filter((l) => /seg-\d+\.m4s/.test(l) && !l.startsWith('#'));

test('delta updates: CAN-SKIP-UNTIL with a long window, EXT-X-SKIP for _HLS_skip=YES (also on a blocking reload); not offered on the default window', { timeout: 60_000 }, async () => {
  const clip = await makeClip({ seconds: 10, fps: 25, gop: 25, width: 160, height: 120 });
  const ref = readClip(clip);
  // 1 s segments in a 12-segment window (skip-until 6 s); the defaults' 2 s x 6 holds nothing older than 12 s.
  for (const [hls, offered, last] of [[{ segmentMs: 1000, partMs: 250, windowSegments: 12 }, true, 7], [{}, false, 3]] as const) {
    await withServer({ hls }, async (h) => {
      const pub = await h.client();
      await pub.publish('delta');
      sendHeaders(pub, ref);
      const url = `http://127.0.0.1:${h.srv.httpPort}/live/delta.fmp4.m3u8?token=t`;
      const first = fetch(url); // starts segmenting
      await sendFrames(pub, clipFrames(ref));
      assert.equal((await first).status, 200);
      let full = '';
      await waitFor(async () => (full = await (await fetch(url)).text()).includes(`seg-${last}.m4s`), 10_000, `segment ${last}`);
      if (!offered) {
        assert.doesNotMatch(full, /CAN-SKIP-UNTIL/, full);
        assert.doesNotMatch(await (await fetch(`${url}&_HLS_skip=YES`)).text(), /EXT-X-SKIP/);
        return;
      }
      assert.match(full, /CAN-SKIP-UNTIL=6\.000/, full);
      const delta = await (await fetch(`${url}&_HLS_skip=YES`)).text();
      const n = Number(/#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)/.exec(delta)?.[1]);
      assert.ok(n >= 1, delta);
      assert.deepEqual(segments(delta), segments(full).slice(n), 'the rest as in the full playlist, with the query');
      assert.ok(segments(delta).every((u) => u.endsWith('?token=t')), 'URIs keep the query');
      const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(full)![1]);
      const blocked = await (await fetch(`${url}&_HLS_msn=${msn + 1}&_HLS_skip=YES`)).text();
      assert.match(blocked, /#EXT-X-SKIP:SKIPPED-SEGMENTS=\d+/, 'a blocking reload with _HLS_skip is a delta too');
    });
  }
});

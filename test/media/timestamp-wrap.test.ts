/**
 * RTMP timestamps are 32-bit milliseconds: they wrap after ~49.7 days, and
 * an encoder may start near the top. Across the wrap the ingest policy sees
 * no discontinuity, HTTP/WS players' rebased timestamps keep counting up,
 * and a player's lag in media time stays right (so the queueMaxMs drop
 * still works). Unit cases first, then a real publisher and HTTP-FLV player.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamSlab } from '../../src/media/stream-slab.js';
import { LiveStream } from '../../src/media/live-stream.js';
import { TimestampPolicy, Track, tsDiff } from '../../src/media/timestamp.js';
import { FlvRebaser } from '../../src/media/egress/flv-form.js';
import { encodeTag } from '../../src/protocol/flv-tag.js';
import type { EgressForm, PlayerTransport } from '../../src/media/types.js';
import { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { SyntheticPublisher } from '../helpers/synthetic-publisher.js';
import { getFlv } from '../helpers/flv-players.js';
import { waitFor } from '../helpers/net.js';

const NEAR_TOP = 2 ** 32 - 1000;
const u32 = (n: number) => n >>> 0;

test('the ingest policy: a 32-bit wrap is no discontinuity (steps of 40 ms stay 40 ms)', () => {
  const p = new TimestampPolicy(10_000);
  const out = Array.from({ length: 60 }, (_, i) => p.correct(Track.Video, u32(NEAR_TOP + i * 40)));
  assert.ok(out[0]! > out.at(-1)!, 'the output wrapped too');
  for (let i = 1; i < out.length; i++) assert.equal(tsDiff(out[i]!, out[i - 1]!), 40, `step ${i}: ${out[i - 1]} -> ${out[i]}`);
});

test('FLV rebasing counts up across the wrap; early audio before the first tag still clamps to 0', () => {
  const r = new FlvRebaser();
  const rel = (ts: number): number => {
    let got = -1;
    r.each(encodeTag(9, u32(ts), Buffer.from([0x27, 1])), (c) => {
      if (got < 0) got = c.readUIntBE(4, 3) | (c[7]! << 24);
    });
    return got >>> 0;
  };
  assert.deepEqual([NEAR_TOP, NEAR_TOP - 5, NEAR_TOP + 960, NEAR_TOP + 1000, NEAR_TOP + 1040, NEAR_TOP + 5000].map(rel), [0, 0, 960, 1000, 1040, 5000]);
});

test('a player\'s lag in media time across the wrap: a stalled player still drops forward at queueMaxMs', async () => {
  const sab = new SharedArrayBuffer(8 << 20);
  StreamSlab.format(sab);
  const s = new LiveStream('live', 'wrap', 1, sab, { maxTimestampJumpMs: 10_000, mergeWindowMs: () => 0 });
  s.startPublishing(1);
  const form: EgressForm = { id: 't', build: () => Buffer.alloc(1), buildSticky: () => Buffer.alloc(1), opensAtZero: false };
  const t: PlayerTransport & { writes: number } = { writableLength: 0, writes: 0, write() { this.writes++; } };
  const frame = (i: number) => s.commitMedia(9, u32(NEAR_TOP + i * 40), Buffer.from([i % 10 === 0 ? 0x17 : 0x27, 1, 0, 0, 0, i & 0xff]));
  for (let i = 0; i < 10; i++) frame(i);
  const sub = s.addSubscriber(form, t, { onPublish() {}, onUnpublish() {}, onStreamEnd() {}, onEvict() {} }, {
    writeHighWaterBytes: 1 << 20, queueMaxBytes: 1 << 30, queueMaxMs: 500, stallTimeoutMs: 1e9,
  });
  sub.pump(); // started: at the first keyframe, sent up to the live edge
  sub.paused = true;
  // 4 s of media, crossing the wrap at frame 25.
  for (let i = 10; i < 110; i++) frame(i);
  sub.paused = false;
  sub.pump();
  assert.ok(sub.tagsDropped >= 90, `dropped forward to the latest keyframe (dropped ${sub.tagsDropped})`);
  s.close('test over');
});

test('a publisher that starts near 2^32 ms: an HTTP-FLV player gets timestamps that keep counting up through the wrap', { timeout: 15000 }, async () => {
  const srv = await startTestServer();
  const c = await RtmpClient.connect(`rtmp://127.0.0.1:${srv.rtmpPort}/live`);
  const pub = new SyntheticPublisher(c, { gop: 10, frameMs: 40, startTs: NEAR_TOP });
  const player = getFlv(`http://127.0.0.1:${srv.httpPort}/live/wrap.flv`);
  try {
    await c.publish('wrap');
    pub.headers();
    pub.send(1);
    await player.res;
    pub.start();
    await waitFor(() => player.flv.tags.filter((t) => t.type === 9).length >= 50, 8000, '50 video tags (2 s, the wrap at 1 s)');
    const video = player.flv.tags.filter((t) => t.type === 9 && t.data[1] === 1);
    for (let i = 1; i < video.length; i++) {
      assert.equal(video[i]!.ts - video[i - 1]!.ts, 40, `video tag ${i}: ${video[i - 1]!.ts} -> ${video[i]!.ts}`);
    }
    assert.ok(video.at(-1)!.ts > 1500, `last video at ${video.at(-1)!.ts} ms`);
  } finally {
    pub.stop();
    player.close();
    c.destroy();
    await closeServer(srv);
  }
});

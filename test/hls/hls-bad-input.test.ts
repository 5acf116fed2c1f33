/**
 * Bad input reaching HLS ends only HLS of the offending stream, with a coded
 * reason: a sequence header whose record does not parse gets 415 naming it
 * (logged once, no segmenter restart loop), while the same stream still
 * plays over HTTP-FLV and another stream's HLS is untouched. (A frame whose
 * tag header does not parse never reaches HLS: ingest refuses it first.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withServer } from '../helpers/server-harness.js';
import { sleep } from '../helpers/net.js';
import { AVC_SEQUENCE_HEADER, AAC_SEQUENCE_HEADER, audioFrame, videoFrame } from '../helpers/synthetic-media.js';
import { getFlv } from '../helpers/flv-players.js';
import { request } from './hls-client.js';
import type { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';

/** 3 s of 25 fps video (a keyframe a second) and audio, after `videoHeader`. */
async function send(pub: RtmpClient, videoHeader: Buffer): Promise<void> {
  pub.sendMedia(9, 0, videoHeader);
  pub.sendMedia(8, 0, AAC_SEQUENCE_HEADER);
  for (let n = 0; n < 75; n++) {
    pub.sendMedia(8, n * 40, audioFrame(n, 16));
    pub.sendMedia(9, n * 40, videoFrame(n, n % 25 === 0, 800));
    if (n % 5 === 4) await sleep(2);
  }
}

test('HLS of a stream with a broken codec record: 415 with the reason; its HTTP-FLV and other streams\' HLS go on', { timeout: 30_000 }, async () => {
  await withServer({ hls: { segmentMs: 1000, partMs: 500, firstSegmentWaitMs: 3000 } }, async (h) => {
    const base = `http://127.0.0.1:${h.srv.httpPort}/live`;
    // avcC cut after its SPS count: the record does not parse.
    const broken = await h.client();
    await broken.publish('broken');
    await send(broken, AVC_SEQUENCE_HEADER.subarray(0, 12));
    const good = await h.client();
    await good.publish('good');
    await send(good, AVC_SEQUENCE_HEADER);

    const refused = await request(`${base}/broken.m3u8`);
    assert.equal(refused.status, 415, refused.body.toString());
    assert.match(refused.body.toString(), /bad codec configuration: .*AVC track config/);
    const again = await request(`${base}/broken.m3u8`);
    assert.equal(again.status, 415, 'still refused, not retried per frame');

    const flv = getFlv(`${base}/broken.flv`);
    try {
      assert.equal((await flv.res).statusCode, 200, 'the stream itself still plays over HTTP-FLV');
    } finally {
      flv.close();
    }

    const ok = await request(`${base}/good.fmp4.m3u8`);
    assert.equal(ok.status, 200, ok.body.toString());
    const segs = ok.body.toString().match(/^good\/seg-\d+\.m4s$/gm) ?? [];
    assert.ok(segs.length >= 1, ok.body.toString());
    for (const u of segs) assert.equal((await request(`${base}/${u}`)).status, 200, u);
  });
});

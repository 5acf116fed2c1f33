/**
 * What users rely on, through real sockets: our RtmpClient publishes
 * synthetic media (test/helpers/synthetic-media.ts: every frame carries a
 * counter) and plays it back from a server started per case — the first
 * tags a player gets, a late join, a player waiting for its publisher, and
 * what publishers may send (aggregates, AMF3 commands).
 *
 * Republishing, slow players and stream commands are in
 * rtmp-republish.test.ts, rtmp-slow-players.test.ts and
 * rtmp-commands.test.ts. Every wait is bounded; each case takes a few
 * seconds at most.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmpStatusError } from '../../src/rtmp/client/rtmp-client.js';
import { encodeAmf0 } from '../../src/protocol/amf0.js';
import { ecmaArray } from '../../src/protocol/amf-types.js';
import { AAC_SEQUENCE_HEADER, AVC_SEQUENCE_HEADER, META, audioFrame, videoFrame } from '../helpers/synthetic-media.js';
import { Recorder, isFrame, isVideoFrame } from '../helpers/rtmp-recorder.js';
import { assertSameTags } from '../helpers/tag-asserts.js';
import { streamOf, withServer } from '../helpers/server-harness.js';
import { sleep, waitFor } from '../helpers/net.js';

test('publish → play: onMetaData unwrapped byte for byte, sequence headers, then every frame identical, in order, on the player stream id', { timeout: 15000 }, async () => {
  await withServer({}, async (h) => {
    const pub = await h.client();
    await pub.publish('basic');
    const src = h.source(pub, { gop: 10 });
    const setDataFrame = src.headers();
    await pub.ping(); // the server has taken the headers in

    const { player, rec } = await h.player('basic');
    assert.equal(player.streamId, 1);
    src.send(30);
    await rec.frame(29);
    await pub.ping();
    await sleep(100); // anything extra (duplicates) would be in by now

    const media = rec.media();
    assert.deepEqual(media.slice(0, 3).map((e) => e.kind), ['meta', 'vseq', 'aseq']);
    // "@setDataFrame" as AMF0: marker 02, length 000d, 13 bytes = 16 bytes stripped; the rest unchanged.
    assert.ok(media[0]!.data.equals(setDataFrame.subarray(16)), 'onMetaData is what followed @setDataFrame');
    assert.ok(media[0]!.data.equals(encodeAmf0(['onMetaData', ecmaArray(META)])), 'onMetaData re-encodes to the same bytes');
    assert.ok(media[1]!.data.equals(AVC_SEQUENCE_HEADER));
    assert.ok(media[2]!.data.equals(AAC_SEQUENCE_HEADER));
    assert.deepEqual(media.slice(0, 3).map((e) => e.ts), [0, 0, 0]);
    assertSameTags(media.slice(3), src.frames, 'frames');
    for (const e of rec.log) {
      if (e.what === 'media') assert.equal(e.streamId, 1, `${e.kind} on message stream ${e.streamId}`);
    }
  });
});

test('late join: metadata and both sequence headers first, then the GOP from the latest keyframe, and no earlier GOP', { timeout: 15000 }, async () => {
  await withServer({}, async (h) => {
    const { pub, src } = await h.publisher('late', { gop: 10 });
    src.send(35); // keyframes at 0, 10, 20, 30
    await pub.ping();

    const { rec } = await h.player('late');
    await rec.frame(34);
    src.send(5); // and live continues after the cache
    await rec.frame(39);
    await pub.ping();
    await sleep(100);

    const media = rec.media();
    assert.deepEqual(media.slice(0, 3).map((e) => e.kind), ['meta', 'vseq', 'aseq']);
    const firstVideo = media.find(isVideoFrame)!;
    assert.equal(firstVideo.kind, 'key');
    assert.equal(firstVideo.n, 30, 'starts at the latest keyframe');
    assert.ok(!media.some((e) => isFrame(e) && e.n < 30), 'nothing from an earlier GOP');
    const from = src.frames.findIndex((f) => f.type === 9 && f.n === 30);
    assertSameTags(media.slice(3), src.frames.slice(from), 'GOP cache then live');
  });
});

test('play of a missing stream with media.playWaitMs 0: Play.StreamNotFound, the session stays usable', { timeout: 10000 }, async () => {
  await withServer({ media: { playWaitMs: 0 } }, async (h) => {
    const player = await h.client();
    await assert.rejects(player.play('nothing'), (err: unknown) => {
      assert.ok(err instanceof RtmpStatusError, `got ${String(err)}`);
      assert.equal(err.status.code, 'NetStream.Play.StreamNotFound');
      assert.match(err.message, /NetStream\.Play\.StreamNotFound/);
      return true;
    });
    await player.ping();
    assert.equal(player.isClosed, false);
    assert.equal(streamOf(h.srv, 'nothing'), undefined, 'no stream left behind');
  });
});

test('play waits media.playWaitMs for a publisher: one arriving after 300 ms is played from its first keyframe', { timeout: 10000 }, async () => {
  await withServer({ media: { playWaitMs: 1500 }, rtmp: { publishNotify: true } }, async (h) => {
    const player = await h.client();
    const rec = new Recorder(player);
    const t0 = Date.now();
    await player.play('soon');
    await sleep(300);
    const { src } = await h.publisher('soon', { gop: 10 });
    src.send(15);
    await rec.status('NetStream.Play.PublishNotify');
    await rec.frame(14);
    // Past the wait: the player must not be told StreamNotFound now that the stream is live.
    await sleep(Math.max(0, 1800 - (Date.now() - t0)));

    assert.equal(rec.statusIndex('NetStream.Play.StreamNotFound'), -1);
    assert.equal(rec.closed, false);
    const media = rec.media();
    assert.deepEqual(media.slice(0, 3).map((e) => e.kind), ['meta', 'vseq', 'aseq']);
    assertSameTags(media.slice(3), src.frames, 'frames');
  });
});

test('aggregate message (type 22) is split: the player gets each tag with its timestamp re-based on the aggregate\'s', { timeout: 10000 }, async () => {
  await withServer({}, async (h) => {
    const pub = await h.client();
    await pub.publish('agg');
    pub.setDataFrame(META);
    pub.sendMedia(9, 0, AVC_SEQUENCE_HEADER);
    pub.sendMedia(8, 0, AAC_SEQUENCE_HEADER);
    await pub.ping();
    const player = await h.client();
    const rec = new Recorder(player);
    const types: number[] = [];
    player.on('message', (hdr) => types.push(hdr.type));
    await player.play('agg');

    // Sub-message timestamps 100.. inside an aggregate stamped 2000 (RTMP spec 7.1.6): they play at 2000..
    const tags = [
      { type: 9, timestamp: 100, payload: videoFrame(0, true, 300) },
      { type: 8, timestamp: 110, payload: audioFrame(0, 20) },
      { type: 9, timestamp: 140, payload: videoFrame(1, false, 200) },
      { type: 8, timestamp: 150, payload: audioFrame(1, 20) },
      { type: 9, timestamp: 180, payload: videoFrame(2, false, 200) },
    ];
    pub.sendAggregate(tags, 2000);
    await waitFor(() => rec.hasVideo(2), 3000, 'last tag of the aggregate');
    await pub.ping();
    await sleep(50);

    const frames = rec.media().filter(isFrame);
    assertSameTags(
      frames,
      tags.map((t) => ({ type: t.type, ts: 2000 + t.timestamp - 100, data: t.payload })),
      'aggregate contents',
    );
    assert.ok(!types.includes(22), 'no aggregate reaches the player');
  });
});

test('AMF3 connect (type 17) is accepted and objectEncoding 3 echoed; AMF3 commands publish; AMF0 connect gets 0', { timeout: 10000 }, async () => {
  await withServer({}, async (h) => {
    const pub = await h.client({ amf3: true });
    assert.equal(pub.connectInfo?.code, 'NetConnection.Connect.Success');
    assert.equal(pub.connectInfo?.objectEncoding, 3);
    assert.equal(h.sessionOf(pub)?.net.objectEncoding, 3);
    await pub.publish('amf3'); // createStream and publish as type 17 too

    const player = await h.client();
    assert.equal(player.connectInfo?.objectEncoding, 0);
    const rec = new Recorder(player);
    await player.play('amf3');
    const src = h.source(pub);
    src.headers();
    src.send(10);
    await rec.frame(9);
    assertSameTags(rec.media().filter(isFrame), src.frames, 'frames of an AMF3 publisher');
  });
});

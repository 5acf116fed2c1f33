/**
 * A publisher going away and coming back, as its players see it through
 * real sockets: republishing within media.republishGraceMs (timestamps go
 * on monotonic, A/V sync kept), the grace period running out, and a second
 * publisher refused while the first one is live.
 *
 * Synthetic publishers put a counter in every frame
 * (test/helpers/synthetic-media.ts); a republish starts its counters at
 * 1000 so old and new frames tell apart. One server per case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmpStatusError } from '../../src/rtmp/client/rtmp-client.js';
import { AAC_SEQUENCE_HEADER, AVC_SEQUENCE_HEADER, META, audioFrame } from '../helpers/synthetic-media.js';
import { Recorder, isFrame } from '../helpers/rtmp-recorder.js';
import { assertMonotonicPerTrack, assertSameTags } from '../helpers/tag-asserts.js';
import { streamOf, withServer, type Harness } from '../helpers/server-harness.js';
import { sleep, waitFor } from '../helpers/net.js';

/**
 * A publisher of `name` sends 20 frames (counters 0..19) to a player, then
 * closes; resolves once the player has UnpublishNotify (and its log index).
 */
async function publisherLeaves(h: Harness, name: string): Promise<{ rec: Recorder; unpub: number }> {
  const { pub, src } = await h.publisher(name, { gop: 10 });
  await pub.ping();
  const { rec } = await h.player(name);
  src.send(20);
  await rec.frame(19);
  await pub.close();
  return { rec, unpub: await rec.status('NetStream.Play.UnpublishNotify') };
}

/**
 * As publisherLeaves, on the default config (no notices): the stream is
 * seen to go down, then a second client publishes the name again.
 */
async function quietRepublish(h: Harness, name: string): Promise<{ rec: Recorder; pub2: Awaited<ReturnType<Harness['client']>> }> {
  const { pub, src } = await h.publisher(name, { gop: 10 });
  const { rec } = await h.player(name);
  src.send(20);
  await rec.frame(19);
  await pub.close();
  await waitFor(() => streamOf(h.srv, name)?.live === false, 2000, 'the stream to go down');
  const pub2 = await h.client();
  await pub2.publish(name);
  return { rec, pub2 };
}

test('republish within grace: UnpublishNotify, player stays, PublishNotify, new frames with timestamps continuing monotonic', { timeout: 15000 }, async () => {
  await withServer({ media: { republishGraceMs: 2000 }, rtmp: { publishNotify: true } }, async (h) => {
    const { rec, unpub } = await publisherLeaves(h, 're');
    await sleep(200);
    assert.equal(rec.closed, false, 'player stays connected during the grace period');

    const pub2 = await h.client();
    await pub2.publish('re'); // not BadName: the name is free again
    const pubNotify = await rec.status('NetStream.Play.PublishNotify');
    const src2 = h.source(pub2, { gop: 10, counterBase: 1000 });
    src2.headers();
    src2.send(20);
    await rec.frame(1019);
    await pub2.ping();
    await sleep(100);

    assert.ok(unpub < pubNotify, 'UnpublishNotify before PublishNotify');
    const firstNew = rec.log.findIndex((e) => e.what === 'media' && e.n >= 1000);
    assert.ok(pubNotify < firstNew, 'PublishNotify before the new publisher\'s frames');
    assert.equal(rec.closed, false);

    const all = rec.media();
    assertMonotonicPerTrack(all, 'player');
    const newFrames = rec.media(pubNotify).filter(isFrame);
    assertSameTags(newFrames, src2.frames, 'new publisher frames', { timestamps: false });
    const lastOldVideo = rec.video().filter((e) => e.n < 1000).at(-1)!;
    assert.ok(newFrames[0]!.ts > lastOldVideo.ts, `new clock continues after the old one: ${newFrames[0]!.ts} > ${lastOldVideo.ts}`);
    // One offset for both tracks: A/V sync of the new publisher is kept.
    const offsets = new Set(newFrames.map((e, i) => e.ts - src2.frames[i]!.ts));
    assert.equal(offsets.size, 1, `one rebase offset, got ${[...offsets].join(',')}`);
  });
});

test('republish within grace on the default config (rtmp.publishNotify off, as nginx-rtmp): no Unpublish/PublishNotify, the player stays and gets the new frames', { timeout: 15000 }, async () => {
  await withServer({ media: { republishGraceMs: 2000 } }, async (h) => {
    const { rec, pub2 } = await quietRepublish(h, 'quiet');
    const src2 = h.source(pub2, { gop: 10, counterBase: 1000 });
    src2.headers();
    src2.send(20);
    await rec.frame(1019);
    const notes = rec.log.filter((e) => e.what === 'status' && e.code.endsWith('PublishNotify'));
    assert.deepEqual(notes, [], 'no PublishNotify / UnpublishNotify (ffmpeg and librtmp players end on UnpublishNotify)');
    assert.ok(!rec.log.some((e) => e.what === 'uc' && e.event === 'StreamEOF'), 'no StreamEOF either');
    assert.equal(rec.closed, false);
    assertMonotonicPerTrack(rec.media(), 'player');
    assertSameTags(rec.media().filter(isFrame).filter((e) => e.n >= 1000), src2.frames, 'new publisher frames', { timestamps: false });
  });
});

test('republish: the player sees monotonic timestamps even when metadata and sequence headers arrive in separate reads', {
  timeout: 15000,
}, async () => {
  await withServer({ media: { republishGraceMs: 2000 }, rtmp: { publishNotify: true } }, async (h) => {
    const { rec } = await publisherLeaves(h, 're2');

    const pub2 = await h.client();
    await pub2.publish('re2');
    await rec.status('NetStream.Play.PublishNotify');
    // As ffmpeg writes them: one message per write; here one event-loop turn apart.
    pub2.setDataFrame(META, 0);
    await pub2.ping();
    pub2.sendMedia(9, 0, AVC_SEQUENCE_HEADER);
    pub2.sendMedia(8, 0, AAC_SEQUENCE_HEADER);
    const src2 = h.source(pub2, { gop: 10, counterBase: 1000 });
    src2.send(10);
    await rec.frame(1009);
    assertMonotonicPerTrack(rec.media(), 'player');
  });
});

test('an audio-only republish of a name that carried video: the player that stayed and a new one both get its audio', { timeout: 15000 }, async () => {
  await withServer({ media: { republishGraceMs: 2000 } }, async (h) => {
    const { rec, pub2 } = await quietRepublish(h, 'av2a');
    pub2.setDataFrame({ audiocodecid: 10, audiosamplerate: 44100, stereo: true }, 0);
    pub2.sendMedia(8, 0, AAC_SEQUENCE_HEADER);
    for (let n = 0; n < 10; n++) pub2.sendMedia(8, n * 23, audioFrame(2000 + n, 16));
    await waitFor(() => rec.hasAudio(2009), 3000, 'the player that stayed gets the new audio');
    const { rec: late } = await h.player('av2a');
    for (let n = 10; n < 40; n++) pub2.sendMedia(8, n * 23, audioFrame(2000 + n, 16));
    await pub2.ping();
    await waitFor(() => late.hasAudio(2039), 3000, 'a player joining the audio-only stream gets its audio (it must not wait for a video keyframe)');
  });
});

test('grace expiry: the player gets Play.Stop after the grace period and is disconnected', { timeout: 10000 }, async () => {
  const GRACE = 300;
  await withServer({ media: { republishGraceMs: GRACE }, rtmp: { publishNotify: true } }, async (h) => {
    const { pub, src } = await h.publisher('gone');
    const { rec } = await h.player('gone');
    src.send(10);
    await rec.frame(9);

    await pub.close();
    await rec.status('NetStream.Play.UnpublishNotify');
    const tUnpub = Date.now();
    await rec.status('NetStream.Play.Stop', GRACE + 2000);
    const tStop = Date.now();
    await waitFor(() => rec.closed, 2000, 'player disconnected after Play.Stop');
    assert.ok(tStop - tUnpub >= GRACE - 100, `Play.Stop ${tStop - tUnpub} ms after UnpublishNotify: the grace period was honoured`);
    assert.equal(streamOf(h.srv, 'gone'), undefined, 'stream gone from the registry');
    const stop = rec.log.find((e) => e.what === 'status' && e.code === 'NetStream.Play.Stop');
    assert.equal(stop?.what === 'status' && stop.streamId, 1);
  });
});

test('duplicate publish: the second publisher gets Publish.BadName; the first keeps publishing and the player keeps receiving', { timeout: 15000 }, async () => {
  await withServer({}, async (h) => {
    const { pub: pub1, src } = await h.publisher('dup', { gop: 10, frameMs: 20 });
    const { rec } = await h.player('dup');
    src.start();
    await waitFor(() => rec.video().length >= 10, 3000, 'player receiving');

    const pub2 = await h.client();
    const pub2rec = new Recorder(pub2);
    await assert.rejects(pub2.publish('dup'), (err: unknown) => {
      assert.ok(err instanceof RtmpStatusError, `got ${String(err)}`);
      assert.equal(err.status.code, 'NetStream.Publish.BadName');
      assert.match(err.message, /NetStream\.Publish\.BadName/);
      return true;
    });
    await waitFor(() => pub2rec.closed, 2000, 'server closes the refused publisher');

    const atRefusal = src.nextN;
    await rec.frame(atRefusal + 15, 3000);
    src.stop();
    assert.equal(pub1.isClosed, false, 'first publisher still connected');
    assert.equal(rec.closed, false, 'player still connected');
    const video = rec.video().map((e) => e.n);
    const audio = rec.audio().map((e) => e.n);
    video.forEach((n, i) => i === 0 || assert.equal(n, video[i - 1]! + 1, `video gap at ${video[i - 1]} -> ${n}`));
    audio.forEach((n, i) => i === 0 || assert.equal(n, audio[i - 1]! + 1, `audio gap at ${audio[i - 1]} -> ${n}`));
  });
});

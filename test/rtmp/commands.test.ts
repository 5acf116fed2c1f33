/**
 * Commands a session sends besides publish and play, through real
 * sockets: ping and acknowledgement windows, pause/unpause, receiveVideo,
 * and an unknown command.
 *
 * Synthetic publishers put a counter in every frame
 * (test/helpers/synthetic-media.ts), so what a paused or resumed player
 * got shows exactly. One server per case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ControlEvent } from '../../src/rtmp/client/rtmp-client.js';
import type { AmfValue } from '../../src/protocol/amf-types.js';
import { Recorder, isFrame, isVideoFrame, type MediaEntry } from '../helpers/rtmp-recorder.js';
import { assertMonotonicPerTrack } from '../helpers/tag-asserts.js';
import { streamOf, withServer } from '../helpers/server-harness.js';
import { sleep, waitFor } from '../helpers/net.js';

test('ping: PingRequest answered with a PingResponse of the same time; acknowledgements flow both ways per the announced windows', { timeout: 10000 }, async () => {
  const WINDOW = 100_000;
  await withServer({ rtmp: { windowAckSize: WINDOW } }, async (h) => {
    // Ping.
    const player = await h.client();
    const rec = new Recorder(player);
    await player.ping(0x12345678);
    assert.ok(rec.pingResponseIndex(0x12345678) >= 0);
    assert.equal(player.serverWindowAckSize, WINDOW, 'server announced rtmp.windowAckSize');

    // The server acknowledges what a client sends once the client announces a window (RTMP spec 5.4.4).
    const pub = await h.client({ windowAckSize: WINDOW });
    const acks: number[] = [];
    pub.on('control', (c: ControlEvent) => {
      if (c.type === 'Acknowledgement') acks.push(c.value);
    });
    await pub.publish('acks');
    await player.play('acks');
    const src = h.source(pub, { videoBytes: 40000 });
    src.headers();
    src.send(15); // ~600 kB
    await pub.ping();
    await rec.frame(14);

    // One ack per read that completes a window: a read of up to 64 KiB can overshoot it, so at least one per two windows.
    const sentAfterHandshake = pub.stats.bytesOut - 3073;
    assert.ok(acks.length >= Math.floor(sentAfterHandshake / (2 * WINDOW)), `server sent ${acks.length} acknowledgements for ${sentAfterHandshake} bytes`);
    acks.forEach((v, i) => i === 0 || assert.ok(v - acks[i - 1]! >= WINDOW, `acks ${acks[i - 1]} -> ${v}: less than a window apart`));
    // Sequence number = bytes received since the handshake (C0+C1+C2 = 3073 bytes are not counted).
    assert.ok(acks.at(-1)! <= sentAfterHandshake, `ack ${acks.at(-1)} > bytes sent ${sentAfterHandshake}`);
    assert.ok(acks.at(-1)! >= sentAfterHandshake - 2 * WINDOW, `last ack ${acks.at(-1)} lags bytes sent (${sentAfterHandshake}) by more than two windows`);
    // And the player acknowledged the server's window while reading ~600 kB, without upsetting it.
    const acksDue = Math.floor(player.stats.bytesIn / (2 * WINDOW));
    assert.ok(acksDue >= 2 && player.stats.acksSent >= acksDue, `player sent ${player.stats.acksSent} acknowledgements for ${player.stats.bytesIn} bytes`);
    await player.ping();
    assert.equal(rec.closed, false);
  });
});

test('pause/unpause: no media while paused; resumes at a keyframe after Unpause.Notify; receiveVideo false stops video only', { timeout: 15000 }, async () => {
  await withServer({}, async (h) => {
    const { src } = await h.publisher('pause', { gop: 10, frameMs: 20 });
    const { player, rec } = await h.player('pause');
    src.start();
    try {
      await waitFor(() => rec.video().length >= 10, 3000, 'playing');

      player.command('pause', true, 0);
      const paused = await rec.status('NetStream.Pause.Notify');
      const lastBefore = rec.log.slice(0, paused).filter((e): e is MediaEntry => e.what === 'media' && isVideoFrame(e)).at(-1)!;
      await sleep(500); // > 1 GOP (10 x 20 ms)
      assert.equal(rec.media(paused + 1).length, 0, 'media after Pause.Notify');

      player.command('pause', false, 0);
      const unpaused = await rec.status('NetStream.Unpause.Notify');
      await waitFor(() => rec.video(unpaused).length >= 12, 3000, 'media after unpause');
      const after = rec.media(unpaused);
      // The player already holds the (unchanged) sequence headers: the first media is the keyframe.
      assert.equal(after[0]!.kind, 'key', `first media after unpause: ${after[0]!.kind}`);
      assert.ok(!after.some((e) => e.kind === 'vseq' || e.kind === 'aseq'), 'unchanged sequence headers are not re-sent');
      const video = after.filter(isVideoFrame);
      assert.equal(video[0]!.kind, 'key', 'resumes at a keyframe');
      assert.ok(video[0]!.n > lastBefore.n, `resumes at the live edge: ${video[0]!.n} after ${lastBefore.n}`);
      video.forEach((e, i) => i === 0 || assert.equal(e.n, video[i - 1]!.n + 1, `gap after unpause at ${video[i - 1]!.n}`));

      // receiveVideo false: once a ping round trip proves the command was handled, no video, audio goes on.
      player.command('receiveVideo', false);
      await player.ping(77);
      const mark = rec.pingResponseIndex(77);
      await sleep(300);
      assert.equal(rec.video(mark).length, 0, 'video after receiveVideo false');
      assert.ok(rec.audio(mark).length >= 5, `audio after receiveVideo false: ${rec.audio(mark).length}`);

      player.command('receiveVideo', true);
      await player.ping(78);
      const mark2 = rec.pingResponseIndex(78);
      await waitFor(() => rec.video(mark2).length >= 3, 3000, 'video back after receiveVideo true');
    } finally {
      src.stop();
    }
  });
});

test('pause shorter than a GOP: unpause delivers no frame twice and timestamps stay monotonic', {
  timeout: 10000,
}, async () => {
  await withServer({}, async (h) => {
    const { src } = await h.publisher('short-pause', { gop: 25, frameMs: 20 });
    const { player, rec } = await h.player('short-pause');
    src.start();
    await waitFor(() => rec.video().some((e) => e.n === 5), 3000, 'mid-GOP');
    player.command('pause', true, 0);
    await rec.status('NetStream.Pause.Notify');
    player.command('pause', false, 0);
    const unpaused = await rec.status('NetStream.Unpause.Notify');
    await waitFor(() => rec.video(unpaused).length >= 5, 3000, 'media after unpause');
    const seen = rec.video().map((e) => e.n);
    assert.equal(new Set(seen).size, seen.length, `frames delivered twice: ${seen.join(',')}`);
    assertMonotonicPerTrack(rec.media().filter(isFrame), 'player');
  });
});

test('receiveVideo true resumes video at a keyframe, not mid-GOP', {
  timeout: 10000,
}, async () => {
  await withServer({}, async (h) => {
    const { src } = await h.publisher('rv', { gop: 25, frameMs: 20 });
    const { player, rec } = await h.player('rv');
    src.start();
    await waitFor(() => rec.video().length >= 3, 3000, 'playing');
    player.command('receiveVideo', false);
    await player.ping();
    // Turn video back on early in a GOP, so the next frame due is an inter frame.
    await waitFor(() => src.nextN % 25 === 3, 3000, 'early in a GOP', 1);
    player.command('receiveVideo', true);
    await player.ping(79);
    const mark = rec.pingResponseIndex(79);
    await waitFor(() => rec.video(mark).length >= 1, 3000, 'video back');
    const first = rec.video(mark)[0]!;
    assert.equal(first.kind, 'key', `video resumed with ${first.kind} frame ${first.n}`);
  });
});

test('unknown command with a transaction id gets _error; the session stays usable', { timeout: 10000 }, async () => {
  await withServer({}, async (h) => {
    const c = await h.client();
    const reply = await c.call('noSuchMethod', 1, 'x');
    assert.equal(reply.ok, false);
    const info = reply.args[0] as Record<string, AmfValue>;
    assert.equal(info.level, 'error');
    assert.equal(info.code, 'NetConnection.Call.Failed');
    assert.match(String(info.description), /noSuchMethod/);
    // Still usable: a stream, a publish, a ping.
    assert.equal(await c.createStream(), 1);
    await c.publish('after-error');
    await c.ping();
    assert.equal(c.isClosed, false);
    assert.ok(streamOf(h.srv, 'after-error')?.live);
  });
});

/**
 * RTMP lets chunk streams interleave: a short audio or data message may
 * start and complete while a long video message is still arriving in
 * chunks. A publisher that does this must keep publishing, and the ring
 * must hold every tag whole, in the order the messages completed. Every
 * interleaving of a 3-chunk video, a 2-chunk audio and a 1-chunk data
 * message is sent, one after another, by a real session.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { newRecordView } from '../../src/core/tag-ring.js';
import { encodeAmf0 } from '../../src/protocol/amf0.js';
import { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import type { RunningServer } from '../../src/process/single.js';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { fmt0Chunks, waitFor } from '../helpers/net.js';
import { AAC_SEQUENCE_HEADER, AVC_SEQUENCE_HEADER, META, audioFrame, videoFrame } from '../helpers/synthetic-media.js';
import { Recorder } from '../helpers/rtmp-recorder.js';

const CHUNK = 4096; // the client's outgoing chunk size
const CSID = { video: 20, audio: 21, data: 22 } as const;

interface Msg {
  type: 8 | 9 | 18;
  body: Buffer;
  chunks: Buffer[];
}

/** Every way to merge the chunk sequences, keeping each message's own chunks in order. */
function interleavings(counts: number[]): number[][] {
  const out: number[][] = [];
  const left = [...counts];
  const walk = (acc: number[]): void => {
    if (left.every((n) => n === 0)) return void out.push([...acc]);
    for (let m = 0; m < left.length; m++) {
      if (left[m] === 0) continue;
      left[m]!--;
      acc.push(m);
      walk(acc);
      acc.pop();
      left[m]!++;
    }
  };
  walk([]);
  return out;
}

let srv: RunningServer;
let pub: RtmpClient;
let player: RtmpClient;

before(async () => {
  srv = await startTestServer();
  pub = await RtmpClient.connect(`rtmp://127.0.0.1:${srv.rtmpPort}/live`);
  await pub.publish('mix');
  pub.setDataFrame(META);
  pub.sendMedia(9, 0, AVC_SEQUENCE_HEADER);
  pub.sendMedia(8, 0, AAC_SEQUENCE_HEADER);
  player = await RtmpClient.connect(`rtmp://127.0.0.1:${srv.rtmpPort}/live`);
});

after(async () => {
  pub?.destroy();
  player?.destroy();
  await closeServer(srv);
});

test('every interleaving of video, audio and data chunks: the publisher stays, the ring holds each tag whole in completion order, a player gets them all', { timeout: 20000 }, async () => {
  const stream = srv.ctx.hub.get('live', 'mix')!;
  await waitFor(() => stream.ring!.head() >= 3, 2000, 'metadata and sequence headers in');
  const rec = new Recorder(player);
  await player.play('mix');
  const startSeq = stream.ring!.head();
  const orders = interleavings([3, 2, 1]);
  assert.equal(orders.length, 60);

  const expected: { type: number; body: Buffer }[] = [];
  for (const [r, order] of orders.entries()) {
    const ts = 40 * (r + 1);
    const mk = (type: Msg['type'], csid: number, body: Buffer): Msg => ({
      type,
      body,
      chunks: fmt0Chunks({ csid, type, timestamp: ts, streamId: pub.streamId, payload: body, chunkSize: CHUNK }),
    });
    const msgs = [
      mk(9, CSID.video, videoFrame(r, true, 2 * CHUNK + 100)),
      mk(8, CSID.audio, audioFrame(r, CHUNK + 50)),
      mk(18, CSID.data, encodeAmf0(['onCuePoint', { name: `round ${r}` }])),
    ];
    const sent = msgs.map(() => 0);
    for (const m of order) {
      const msg = msgs[m]!;
      pub.socket.write(msg.chunks[sent[m]!]!);
      if (++sent[m]! === msg.chunks.length) expected.push({ type: msg.type, body: msg.body });
    }
  }

  await waitFor(() => stream.ring!.head() - startSeq >= expected.length || pub.isClosed, 5000, `${expected.length} tags in the ring`);
  assert.equal(pub.isClosed, false, 'the publisher was not dropped');
  assert.equal(stream.publisher !== undefined, true, 'still publishing');
  const ring = stream.ring!;
  const view = newRecordView();
  for (const [i, want] of expected.entries()) {
    assert.ok(ring.read(startSeq + i, view), `tag ${i} readable`);
    const body = Buffer.from(ring.data.subarray(view.offset + 11, view.offset + view.length - 4));
    assert.equal(view.type, want.type, `tag ${i}: type`);
    assert.ok(body.equals(want.body), `tag ${i} (type ${want.type}): body intact`);
  }
  assert.equal(ring.head() - startSeq, expected.length, 'nothing extra in the ring');

  // The player sees the same sequence (its start: metadata, headers; then the rounds).
  const frames = () => rec.media().filter((e) => e.kind === 'key' || e.kind === 'audio' || e.kind === 'data');
  await waitFor(() => frames().length >= expected.length, 5000, 'player got every round');
  const got = frames().slice(-expected.length);
  assert.deepEqual(got.map((e) => e.type), expected.map((e) => e.type), 'player order = completion order');
});

/**
 * The load generator's RTMP players read audio and video bodies into one
 * reused buffer per chunk stream (loadtest/scratch-payloads.ts). Audio
 * and video interleave chunk by chunk, so an audio message completes
 * while a video one is half read: each must still be whole and intact
 * when delivered, and the next message on a chunk stream reuses its
 * buffer instead of allocating.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkReader } from '../../src/protocol/chunk-reader.js';
import type { MessageHeader } from '../../src/protocol/types.js';
import { ScratchPayloads } from '../../loadtest/scratch-payloads.js';
import { fmt0Chunks } from '../helpers/net.js';

const CHUNK = 128;

function body(n: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (n * 31 + i * 7) & 0xff;
  return b;
}

test('interleaved audio and video: every body intact when delivered, one buffer per chunk stream', () => {
  const sink = new ScratchPayloads();
  const delivered: { h: MessageHeader; copy: Buffer; backing: ArrayBufferLike }[] = [];
  const reader = new ChunkReader({
    begin: (h) => sink.payloadFor(h) ?? Buffer.alloc(h.length),
    message: (h, payload) => delivered.push({ h, copy: Buffer.from(payload), backing: payload.buffer }),
    abandon: () => undefined,
  });
  reader.setChunkSize(CHUNK);

  const sent: Buffer[] = [];
  const wire: Buffer[] = [];
  for (let n = 0; n < 4; n++) {
    const video = body(n, 9000 + n * 100);
    const audio = body(100 + n, 4200);
    const command = body(200 + n, 40);
    sent.push(audio, video, command);
    const v = fmt0Chunks({ csid: 6, type: 9, payload: video, chunkSize: CHUNK, timestamp: n * 40 });
    const a = fmt0Chunks({ csid: 4, type: 8, payload: audio, chunkSize: CHUNK, timestamp: n * 40 });
    const c = fmt0Chunks({ csid: 3, type: 20, payload: command, chunkSize: CHUNK });
    // Audio's chunks go between video's first ones, so audio completes while video is open; a command after.
    for (let i = 0; i < v.length; i++) {
      if (i < a.length) wire.push(a[i]!);
      wire.push(v[i]!);
    }
    wire.push(...c);
  }
  // Fed in uneven pieces, so chunk headers split across pushes as well.
  const all = Buffer.concat(wire);
  for (let at = 0, step = 1; at < all.length; at += step, step = (step * 5 + 3) % 997 || 1) reader.push(all.subarray(at, at + step));

  assert.equal(delivered.length, sent.length);
  for (const [i, d] of delivered.entries()) assert.ok(d.copy.equals(sent[i]!), `message ${i} (type ${d.h.type}) intact when delivered`);
  const backings = (type: number) => new Set(delivered.filter((d) => d.h.type === type).map((d) => d.backing));
  assert.equal(backings(9).size, 1, 'every video body in the same buffer');
  assert.equal(backings(8).size, 1, 'every audio body in the same buffer');
  assert.notEqual([...backings(9)][0], [...backings(8)][0], 'audio and video do not share one');
  assert.equal(backings(20).size, 4, 'commands get buffers of their own');
});

test('small frames are left to the pool; a larger frame grows the buffer', () => {
  const sink = new ScratchPayloads();
  const h = (length: number): MessageHeader => ({ csid: 6, type: 9, timestamp: 0, length, streamId: 1 });
  assert.equal(sink.payloadFor(h(100)), undefined);
  const a = sink.payloadFor(h(5000))!;
  assert.equal(a.length, 5000);
  assert.equal(sink.payloadFor(h(7000))!.buffer, a.buffer, 'within the power of two: the same buffer');
  const b = sink.payloadFor(h(20000))!;
  assert.equal(b.length, 20000);
  assert.notEqual(b.buffer, a.buffer);
});

test('an Abort mid-message, then a new message on the same chunk stream: the new body intact in the reused buffer', () => {
  const sink = new ScratchPayloads();
  const delivered: Buffer[] = [];
  const reader = new ChunkReader({
    begin: (h) => sink.payloadFor(h) ?? Buffer.alloc(h.length),
    message: (_h, payload) => delivered.push(Buffer.from(payload)),
    abandon: () => undefined,
  });
  reader.setChunkSize(CHUNK);
  const dropped = fmt0Chunks({ csid: 6, type: 9, payload: body(1, 6000), chunkSize: CHUNK });
  const kept = body(2, 5000);
  reader.push(Buffer.concat(dropped.slice(0, 10)));
  reader.abort(6);
  reader.push(Buffer.concat(fmt0Chunks({ csid: 6, type: 9, payload: kept, chunkSize: CHUNK, timestamp: 40 })));
  assert.equal(delivered.length, 1);
  assert.ok(delivered[0]!.equals(kept));
});

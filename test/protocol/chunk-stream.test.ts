import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkReader, type ChunkSink } from '../../src/protocol/chunk-reader.js';
import { ChunkWriter, encodeMessage } from '../../src/protocol/chunk-writer.js';
import type { MessageHeader, RtmpMessage } from '../../src/protocol/types.js';
import { SluiceError } from '../../src/core/errors.js';

/** A sink that collects whole messages into fresh buffers. */
type Msg = RtmpMessage & { payload: Buffer };

function collector(): { sink: ChunkSink; out: Msg[]; abandoned: MessageHeader[] } {
  const out: Msg[] = [];
  const abandoned: MessageHeader[] = [];
  return {
    out,
    abandoned,
    sink: {
      begin: (h) => new Uint8Array(h.length),
      message: (h, payload) => out.push({ ...h, payload: Buffer.from(payload) }),
      abandon: (h) => abandoned.push(h),
    },
  };
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+|\/\/[^\n]*/g, ''), 'hex');

/** Deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

test('round trip: random messages, chunk sizes, header compression, random splits', () => {
  for (let round = 0; round < 40; round++) {
    const r = rng(round + 1);
    const chunkSize = [1, 2, 7, 128, 4096, 65536][Math.floor(r() * 6)]!;
    const w = new ChunkWriter(chunkSize);
    const sent: RtmpMessage[] = [];
    const wire: Buffer[] = [];
    const ts: Record<number, number> = {};
    const csids = [2, 3, 4, 63, 64, 319, 320, 65599];
    for (let i = 0; i < 60; i++) {
      const csid = csids[Math.floor(r() * csids.length)]!;
      const big = r() < 0.1;
      // Timestamps per chunk stream non-decreasing, some past the 24-bit limit.
      const step = r() < 0.3 ? 0 : Math.floor(r() * 100);
      ts[csid] = (ts[csid] ?? (big ? 0xfffff0 : Math.floor(r() * 1000))) + step;
      const len = r() < 0.2 ? 0 : Math.floor(r() * (r() < 0.2 ? 20000 : 300));
      const payload = Buffer.alloc(len);
      for (let k = 0; k < len; k++) payload[k] = Math.floor(r() * 256);
      const m: RtmpMessage = {
        csid,
        type: [8, 9, 18, 20][Math.floor(r() * 4)]!,
        timestamp: ts[csid]!,
        length: len,
        streamId: r() < 0.8 ? 1 : 0,
        payload,
      };
      sent.push(m);
      wire.push(w.encode(m, payload));
    }
    const bytes = Buffer.concat(wire);
    const c = collector();
    const reader = new ChunkReader(c.sink, { maxChunkSize: 65536, maxMessageSize: 1 << 20, maxChunkStreams: 16 });
    reader.setChunkSize(chunkSize);
    let pos = 0;
    while (pos < bytes.length) {
      const n = 1 + Math.floor(r() * (r() < 0.5 ? 5 : 3000));
      reader.push(bytes.subarray(pos, pos + n));
      pos += n;
    }
    assert.equal(c.out.length, sent.length, `round ${round}: message count`);
    for (let i = 0; i < sent.length; i++) {
      assert.deepEqual(c.out[i], sent[i], `round ${round} message ${i}`);
    }
  }
});

test('every split offset of a fixture yields the same messages', () => {
  const w = new ChunkWriter(5);
  const msgs: RtmpMessage[] = [
    { csid: 3, type: 20, timestamp: 0, length: 12, streamId: 0, payload: Buffer.from('connect-ish!') },
    { csid: 6, type: 9, timestamp: 0x1000000, length: 11, streamId: 1, payload: Buffer.from('videoframe1') },
    { csid: 6, type: 9, timestamp: 0x1000028, length: 11, streamId: 1, payload: Buffer.from('videoframe2') },
    { csid: 400, type: 8, timestamp: 7, length: 3, streamId: 1, payload: Buffer.from('aud') },
  ];
  const bytes = Buffer.concat(msgs.map((m) => w.encode(m, m.payload)));
  for (let a = 0; a <= bytes.length; a++) {
    for (let b = a; b <= bytes.length; b += 7) {
      const c = collector();
      const reader = new ChunkReader(c.sink);
      reader.setChunkSize(5);
      reader.push(bytes.subarray(0, a));
      reader.push(bytes.subarray(a, b));
      reader.push(bytes.subarray(b));
      assert.deepEqual(c.out, msgs, `split at ${a}/${b}`);
    }
  }
});

// ---- byte fixtures per spec case (RTMP spec 5.3.1) ----------------------

test('fmt 0, 1-byte csid', () => {
  const c = collector();
  new ChunkReader(c.sink).push(hex(`
    03            // fmt 0 | csid 3
    000064        // timestamp 100
    000003        // message length 3
    14            // type 20 (AMF0 command)
    01000000      // message stream id 1 (little-endian)
    616263        // payload "abc"
  `));
  assert.deepEqual(c.out, [{ csid: 3, type: 20, timestamp: 100, length: 3, streamId: 1, payload: Buffer.from('abc') }]);
});

test('fmt 0, 2-byte csid (64..319)', () => {
  const c = collector();
  new ChunkReader(c.sink).push(hex(`
    00 06         // fmt 0 | csid form 0, csid = 64 + 6 = 70
    000000 000001 08 00000000
    ff
  `));
  assert.equal(c.out[0]!.csid, 70);
  assert.equal(c.out[0]!.type, 8);
});

test('fmt 0, 3-byte csid (320..65599)', () => {
  const c = collector();
  new ChunkReader(c.sink).push(hex(`
    01 10 27      // fmt 0 | csid form 1, csid = 64 + 0x10 + 0x27*256 = 10064
    000000 000001 09 00000000
    ee
  `));
  assert.equal(c.out[0]!.csid, 10064);
});

test('fmt 1 (delta, length, type), fmt 2 (delta), fmt 3 (all repeated)', () => {
  const c = collector();
  new ChunkReader(c.sink).push(hex(`
    04 000010 000001 08 01000000 aa   // fmt 0 csid 4: ts 16, len 1, audio, sid 1
    44 00000a 000002 09 bbbb          // fmt 1 csid 4: delta 10 -> ts 26, len 2, video
    84 000005 cccc                    // fmt 2 csid 4: delta 5 -> ts 31, len 2, video
    c4 dddd                           // fmt 3 csid 4: delta 5 again -> ts 36
  `));
  assert.deepEqual(
    c.out.map((m) => [m.timestamp, m.type, m.streamId, m.payload.toString('hex')]),
    [
      [16, 8, 1, 'aa'],
      [26, 9, 1, 'bbbb'],
      [31, 9, 1, 'cccc'],
      [36, 9, 1, 'dddd'],
    ],
  );
});

test('extended timestamp, repeated on type-3 continuation chunks', () => {
  const c = collector();
  const reader = new ChunkReader(c.sink);
  reader.setChunkSize(2);
  reader.push(hex(`
    06 ffffff 000003 09 01000000 01020304 aabb  // fmt 0 csid 6, ts field 0xffffff, ext ts 0x01020304, 2 of 3 bytes
    c6 01020304 cc                              // fmt 3 continuation repeats the extended timestamp
  `));
  assert.deepEqual(c.out[0], { csid: 6, type: 9, timestamp: 0x01020304, length: 3, streamId: 1, payload: hex('aabbcc') });
});

test('extended timestamp omitted on continuation chunks (lenient peek)', () => {
  const c = collector();
  const reader = new ChunkReader(c.sink);
  reader.setChunkSize(4);
  reader.push(hex(`
    06 ffffff 000008 09 01000000 01020304 11223344  // first chunk: 4 payload bytes
    c6 55667788                                     // continuation without the ext ts: payload only
  `));
  assert.equal(c.out[0]!.payload.toString('hex'), '1122334455667788');
});

test('interleaved chunk streams assemble independently', () => {
  const c = collector();
  const reader = new ChunkReader(c.sink);
  reader.setChunkSize(2);
  reader.push(hex(`
    06 000000 000004 09 01000000 v1v1`.replace(/v1/g, '11') + `
    04 000000 000003 08 01000000 2222   // audio starts on csid 4 mid-video
    c6 1111                             // video continues
    c4 22                               // audio ends
  `));
  assert.deepEqual(c.out.map((m) => [m.csid, m.payload.toString('hex')]), [
    [6, '11111111'],
    [4, '222222'],
  ]);
});

test('abort drops the partial message on that chunk stream only', () => {
  const c = collector();
  const reader = new ChunkReader(c.sink);
  reader.setChunkSize(2);
  reader.push(hex('06 000000 000004 09 01000000 aaaa'));
  reader.abort(6);
  assert.equal(c.abandoned.length, 1);
  reader.push(hex('06 000000 000002 09 01000000 bbbb'));
  assert.deepEqual(c.out.map((m) => m.payload.toString('hex')), ['bbbb']);
});

test('zero-length message is delivered', () => {
  const c = collector();
  new ChunkReader(c.sink).push(hex('03 000000 000000 14 00000000'));
  assert.equal(c.out.length, 1);
  assert.equal(c.out[0]!.length, 0);
});

test('limits: set chunk size 0 or over the limit, message too large, too many streams', () => {
  const reader = new ChunkReader(collector().sink, { maxChunkSize: 4096, maxMessageSize: 1000, maxChunkStreams: 2 });
  assert.throws(() => reader.setChunkSize(0), (e: SluiceError) => e.code === 'ERR_CHUNK_SIZE');
  assert.throws(() => reader.setChunkSize(4097), (e: SluiceError) => e.code === 'ERR_CHUNK_SIZE');
  assert.throws(() => reader.push(hex('03 000000 0003e9 09 00000000')), (e: SluiceError) => e.code === 'ERR_MESSAGE_TOO_LARGE');
  const r2 = new ChunkReader(collector().sink, { maxChunkSize: 4096, maxMessageSize: 1000, maxChunkStreams: 2 });
  r2.push(hex('03 000000 000000 14 00000000 04 000000 000000 14 00000000'));
  assert.throws(() => r2.push(hex('05 000000 000000 14 00000000')), (e: SluiceError) => e.code === 'ERR_LIMIT');
});

test('fmt 1/2/3 on a chunk stream never opened is an error', () => {
  for (const b of ['43 000000 000001 08', '83 000000', 'c3']) {
    const reader = new ChunkReader(collector().sink);
    assert.throws(() => reader.push(hex(b + ' 00')), (e: SluiceError) => e.code === 'ERR_CHUNK', b);
  }
});

test('encodeMessage is fmt 0 with fmt 3 continuations at the given chunk size', () => {
  const out = encodeMessage({ csid: 6, type: 9, timestamp: 40, length: 0, streamId: 1 }, Buffer.from('abcdef'), 4);
  assert.equal(out.toString('hex'), hex('06 000028 000006 09 01000000 61626364 c6 6566').toString('hex'));
});

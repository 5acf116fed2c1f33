// Property tests with fast-check: for arbitrary bytes, every parser of
// untrusted input either succeeds or throws the project's coded SluiceError
// — never a RangeError, TypeError or any other crash, and never hangs.
// Round trips: AMF0/AMF3 decode(encode(x)) = x, FLV tags demux as encoded,
// and a chunked message reads back whole however its bytes are split.
//
// The bounded run here is FUZZ_RUNS cases per property (default 300); a
// longer run: FUZZ_RUNS=20000 node --test dist/test/protocol/fuzz.test.js
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SluiceError } from '../../src/core/errors.js';
import { ChunkReader, type ChunkSink } from '../../src/protocol/chunk-reader.js';
import { chunkedSize, writeChunks } from '../../src/protocol/chunk-writer.js';
import { decodeAmf0, encodeAmf0 } from '../../src/protocol/amf0.js';
import { decodeAmf3 } from '../../src/protocol/amf3-decoder.js';
import { encodeAmf3 } from '../../src/protocol/amf3-encoder.js';
import { encodeTag, FlvDemuxer, flvFileHeader } from '../../src/protocol/flv-tag.js';
import { inspectAudio, parseAudioTagHeader } from '../../src/protocol/audio-tag.js';
import { inspectVideo, parseVideoTagHeader } from '../../src/protocol/video-tag.js';
import { splitAggregate } from '../../src/protocol/aggregate.js';
import { parseAvcDecoderConfig, parseAvcSps } from '../../src/protocol/avc.js';
import { parseHevcDecoderConfig, parseHevcSps } from '../../src/protocol/hevc.js';
import { parseAudioSpecificConfig } from '../../src/protocol/aac.js';
import { ServerHandshake } from '../../src/protocol/handshake.js';
import { parseFlvPath } from '../../src/http/flv-route.js';
import type { AmfValue } from '../../src/protocol/amf-types.js';
import type { MessageHeader } from '../../src/protocol/types.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const params = { numRuns: RUNS };

/** Runs `fn`; anything thrown must be a coded SluiceError. */
function onlyCoded(what: string, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof SluiceError && typeof err.code === 'string' && err.code.startsWith('ERR_')) return;
    assert.fail(`${what}: threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
}

/** Feeds `data` to `push` in pieces cut at `cuts` (taken modulo its length, in order). */
function pushInPieces(data: Uint8Array, cuts: number[], push: (piece: Uint8Array) => unknown): void {
  const at = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const c of [...at, data.length]) {
    push(data.subarray(from, c));
    from = c;
  }
}

const bytes = (max = 512) => fc.uint8Array({ maxLength: max });

/** A sink that gives each message its own buffer, with the limits' allocation bound checked. */
function sink(maxLen: number, got: { h: MessageHeader; p: Uint8Array }[] = []): ChunkSink {
  return {
    begin: (h) => {
      assert.ok(h.length <= maxLen, `begin() asked for ${h.length} bytes, over the ${maxLen} limit`);
      return new Uint8Array(h.length);
    },
    message: (h, p) => got.push({ h, p: p.slice() }),
    abandon: () => undefined,
  };
}

test('chunk reader: arbitrary bytes in arbitrary splits throw only coded errors, and never allocate over maxMessageSize', () => {
  const limits = { maxChunkSize: 4096, maxMessageSize: 64 * 1024, maxChunkStreams: 8 };
  fc.assert(
    fc.property(bytes(2048), fc.array(fc.nat(2048), { maxLength: 8 }), (data, cuts) => {
      const r = new ChunkReader(sink(limits.maxMessageSize), limits);
      onlyCoded('ChunkReader.push', () => pushInPieces(data, cuts, (b) => r.push(b)));
    }),
    params,
  );
});

test('chunk reader: a chunked message (any csid, 3-byte or extended timestamp) reads back whole under arbitrary splits', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 65599 }),
      fc.uint8Array({ minLength: 0, maxLength: 1500 }),
      fc.oneof(fc.nat(0xfffffe), fc.integer({ min: 0xffffff, max: 0xffffffff })),
      fc.array(fc.nat(2000), { maxLength: 6 }),
      (csid, body, ts, cuts) => {
        const h = { csid, type: 9, timestamp: ts, length: body.length, streamId: 1 };
        const wire = Buffer.alloc(chunkedSize(csid, 0, body.length, ts, 128));
        writeChunks(wire, 0, 0, h, ts, body, 128);
        const got: { h: MessageHeader; p: Uint8Array }[] = [];
        const r = new ChunkReader(sink(1 << 20, got));
        pushInPieces(wire, cuts, (b) => r.push(b));
        assert.equal(got.length, 1, 'one message');
        assert.deepEqual({ ...got[0]!.h }, h);
        assert.ok(Buffer.from(got[0]!.p).equals(Buffer.from(body)), 'payload bytes');
      },
    ),
    params,
  );
});

test('AMF0 and AMF3 decoders: arbitrary bytes throw only coded errors', () => {
  fc.assert(
    fc.property(bytes(), (b) => {
      onlyCoded('decodeAmf0', () => decodeAmf0(b));
      onlyCoded('decodeAmf3', () => decodeAmf3(b));
    }),
    params,
  );
});

/** AMF values both encodings carry exactly: finite doubles, strings, booleans, null, nested plain objects and arrays. */
const amfValue: fc.Arbitrary<AmfValue> = fc.letrec<{ v: AmfValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
    fc.string({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), tie('v'), { maxKeys: 4 }),
  ),
})).v;

/** Decoded objects have a null prototype (so a '__proto__' key is only a key): compare as plain data. */
function plain(v: AmfValue): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x as AmfValue)]));
  }
  return v;
}

test('AMF0 round trip: decode(encode(values)) = values', () => {
  fc.assert(
    fc.property(fc.array(amfValue, { maxLength: 4 }), (values) => {
      assert.deepEqual(plain(decodeAmf0(encodeAmf0(values))), plain(values));
    }),
    params,
  );
});

test('AMF3 round trip: decode(encode(values)) = values', () => {
  fc.assert(
    fc.property(fc.array(amfValue, { maxLength: 4 }), (values) => {
      assert.deepEqual(plain(decodeAmf3(encodeAmf3(values))), plain(values));
    }),
    params,
  );
});

test('FLV demuxer: arbitrary bytes after a valid or random header throw only coded errors; encoded tags demux back', () => {
  fc.assert(
    fc.property(fc.boolean(), bytes(1024), (valid, rest) => {
      const d = new FlvDemuxer();
      const head = valid ? flvFileHeader({ audio: true, video: true }) : Buffer.alloc(0);
      onlyCoded('FlvDemuxer', () => {
        d.push(Buffer.concat([head, rest]));
        d.end();
      });
    }),
    params,
  );
  fc.assert(
    fc.property(fc.array(fc.record({ type: fc.constantFrom(8, 9, 18), ts: fc.nat(0xffffffff), data: bytes(300) }), { maxLength: 6 }), (tags) => {
      const d = new FlvDemuxer();
      const file = Buffer.concat([flvFileHeader({ audio: true, video: true }), ...tags.map((t) => encodeTag(t.type, t.ts, t.data))]);
      const out = d.push(file).map((t) => ({ type: t.type, ts: t.timestamp, data: Buffer.from(t.data) }));
      d.end();
      assert.deepEqual(out, tags.map((t) => ({ ...t, data: Buffer.from(t.data) })));
    }),
    params,
  );
});

test('audio/video tag headers (legacy and enhanced RTMP), codec configs and SPS: arbitrary bytes throw only coded errors', () => {
  const parsers: [string, (b: Uint8Array) => unknown][] = [
    ['parseAudioTagHeader', parseAudioTagHeader],
    ['inspectAudio', inspectAudio],
    ['parseVideoTagHeader', parseVideoTagHeader],
    ['inspectVideo', inspectVideo],
    ['parseAvcDecoderConfig', parseAvcDecoderConfig],
    ['parseAvcSps', parseAvcSps],
    ['parseHevcDecoderConfig', parseHevcDecoderConfig],
    ['parseHevcSps', parseHevcSps],
    ['parseAudioSpecificConfig', parseAudioSpecificConfig],
  ];
  // Enhanced headers: the first byte's IsExHeader bit set, then a known FourCC, so the parsers go deep.
  const fourccs = ['avc1', 'hvc1', 'av01', 'vp09', 'Opus', 'mp4a', 'fLaC', '.mp3', 'ac-3'].map((s) => Buffer.from(s, 'latin1'));
  const enhanced = fc.tuple(fc.nat(255), fc.constantFrom(...fourccs), bytes(64)).map(([b0, cc, rest]) => Buffer.concat([Buffer.from([b0 | 0x80]), cc, rest]));
  fc.assert(
    fc.property(fc.oneof(bytes(128), enhanced), (b) => {
      for (const [name, parse] of parsers) onlyCoded(name, () => parse(b));
    }),
    params,
  );
});

test('aggregate splitter: arbitrary payloads throw only coded errors, and sub-messages stay inside the payload', () => {
  fc.assert(
    fc.property(bytes(1024), fc.nat(0xffffffff), (payload, ts) => {
      const h: MessageHeader = { csid: 4, type: 22, timestamp: ts, length: payload.length, streamId: 1 };
      onlyCoded('splitAggregate', () =>
        splitAggregate(h, payload, (sub, body) => {
          assert.ok(body.length === sub.length && body.length <= payload.length, 'sub-message inside the aggregate');
        }),
      );
    }),
    params,
  );
});

test('server handshake: arbitrary C0/C1/C2 bytes in any split throw only coded errors', () => {
  fc.assert(
    fc.property(fc.constantFrom(3, 6, 0, 0x42), bytes(3200), fc.array(fc.nat(3300), { maxLength: 5 }), (c0, rest, cuts) => {
      const hs = new ServerHandshake();
      const data = Buffer.concat([Buffer.from([c0]), rest]);
      onlyCoded('ServerHandshake.push', () => pushInPieces(data, cuts, (b) => hs.push(b)));
    }),
    params,
  );
});

test('HTTP-FLV path parser: arbitrary URLs give a stream or undefined, never throw', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.webUrl().map((u) => new URL(u).pathname + new URL(u).search)), (url) => {
      const r = parseFlvPath(url);
      if (r) assert.ok(r.app.length > 0 && r.name.length > 0, `parsed ${url} to ${JSON.stringify(r)}`);
    }),
    params,
  );
});

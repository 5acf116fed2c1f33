import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { SluiceError } from '../../src/core/errors.js';
import {
  ClientHandshake,
  CLIENT_VERSION,
  ServerHandshake,
  SERVER_VERSION,
  formatVersion,
  type HandshakeResult,
} from '../../src/protocol/handshake.js';
import {
  FMS_KEY,
  FMS_KEY_NAME,
  FP_KEY,
  FP_KEY_NAME,
  HANDSHAKE_SIZE,
  digestPosition,
  findDigest,
  type DigestSchema,
} from '../../src/protocol/handshake-digest.js';

const N = HANDSHAKE_SIZE;
/** First bytes of a chunk stream: basic header fmt 0 csid 3, then a fake message header. */
const CHUNK_BYTES = Buffer.from([0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x14, 0x00, 0x00, 0x00, 0x00]);

function isHandshakeError(re?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof SluiceError, `not a SluiceError: ${String(err)}`);
    assert.equal(err.code, 'ERR_HANDSHAKE');
    if (re) assert.match(err.message, re);
    return true;
  };
}

/**
 * Feeds `bytes` cut at `cuts` (sorted offsets), as a session would: once
 * done, `rest` and every later piece go to the chunk reader (here: are
 * collected into the returned `rest`).
 */
function feed(m: { push(b: Uint8Array): HandshakeResult }, bytes: Uint8Array, cuts: number[]): HandshakeResult {
  const send: Buffer[] = [];
  let done = false;
  const rest: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    // Copy each piece into a fresh buffer, then scribble over it after the push,
    // as a socket's read buffer would be gone: nothing may keep a view of it.
    const piece = Buffer.from(bytes.subarray(at, cut));
    if (done) {
      rest.push(Buffer.from(piece));
    } else {
      const res = m.push(piece);
      send.push(...res.send.map((b) => Buffer.from(b)));
      if (res.done) {
        done = true;
        rest.push(Buffer.from(res.rest));
      } else {
        assert.equal(res.rest.length, 0);
      }
    }
    piece.fill(0xee);
    at = cut;
  }
  return { send, done, rest: Buffer.concat(rest) };
}

interface Run {
  server: ServerHandshake;
  client: ClientHandshake;
  c0c1: Buffer;
  s0s1s2: Buffer;
  c2: Buffer;
  rest: Uint8Array;
}

/** A whole handshake in memory, with C0C1 and C2(+chunk bytes) cut as asked. */
function run(
  client: ClientHandshake,
  server = new ServerHandshake(),
  c0c1Cuts: number[] = [],
  c2Cuts: number[] = [],
  after: Uint8Array = CHUNK_BYTES,
): Run {
  const c0c1 = client.start();
  assert.equal(c0c1.length, 1 + N);
  const sr1 = feed(server, c0c1, c0c1Cuts);
  assert.equal(sr1.done, false);
  assert.equal(sr1.send.length, 1);
  const s0s1s2 = sr1.send[0]!;
  assert.equal(s0s1s2.length, 1 + 2 * N);

  const cr = client.push(s0s1s2);
  assert.equal(cr.done, true);
  assert.equal(cr.send.length, 1);
  assert.equal(cr.rest.length, 0);
  const c2 = cr.send[0]!;
  assert.equal(c2.length, N);

  const sr2 = feed(server, Buffer.concat([c2, after]), c2Cuts);
  assert.equal(sr2.done, true);
  assert.equal(sr2.send.length, 0);
  return { server, client, c0c1, s0s1s2, c2, rest: sr2.rest };
}

const s1Of = (r: Run): Buffer => r.s0s1s2.subarray(1, 1 + N);
const s2Of = (r: Run): Buffer => r.s0s1s2.subarray(1 + N);
const c1Of = (r: Run): Buffer => r.c0c1.subarray(1);

test('plain client gets a plain handshake: S1 version 0, S2 == C1, C2 == S1', () => {
  const r = run(new ClientHandshake({ complex: false }));
  assert.equal(r.c0c1[0], 3); // C0
  assert.equal(c1Of(r).readUInt32BE(4), 0); // C1 version field: zero = plain
  assert.equal(r.s0s1s2[0], 3); // S0
  assert.equal(s1Of(r).readUInt32BE(4), 0); // S1 "zero" field
  assert.deepEqual(s2Of(r), c1Of(r));
  assert.deepEqual(r.c2, s1Of(r));
  assert.equal(r.server.complex, false);
  assert.equal(r.server.schema, undefined);
  assert.equal(r.server.c2Valid, true);
  assert.equal(r.client.complex, false);
  assert.equal(r.client.s2Valid, true);
  assert.deepEqual(Buffer.from(r.rest), CHUNK_BYTES);
});

for (const schema of [0, 1] as DigestSchema[]) {
  test(`digest handshake, schema ${schema}: both sides verify`, () => {
    const r = run(new ClientHandshake({ schema }));
    assert.equal(c1Of(r).readUInt32BE(4), CLIENT_VERSION);
    assert.equal(r.server.complex, true);
    assert.equal(r.server.schema, schema);
    assert.equal(r.server.clientVersion, CLIENT_VERSION);
    assert.equal(r.server.c2Valid, true);
    assert.equal(r.client.complex, true);
    assert.equal(r.client.schema, schema); // S1 mirrors C1's layout
    assert.equal(r.client.serverVersion, SERVER_VERSION);
    assert.equal(r.client.s2Valid, true);
    assert.deepEqual(Buffer.from(r.rest), CHUNK_BYTES);
  });

  test(`digest handshake, schema ${schema}: S1 digest and S2 signature as a client computes them`, () => {
    const r = run(new ClientHandshake({ schema }));
    const c1 = c1Of(r);
    const s1 = s1Of(r);
    const s2 = s2Of(r);
    assert.ok(s1[4]! >= 3, 'ffmpeg only verifies S1 when its version byte is >= 3');

    // S1 digest: HMAC-SHA256(FMS key name, S1 without the digest), written at the schema's position.
    const sPos = digestPosition(s1, schema);
    const sDigest = createHmac('sha256', FMS_KEY.subarray(0, 36))
      .update(Buffer.concat([s1.subarray(0, sPos), s1.subarray(sPos + 32)]))
      .digest();
    assert.deepEqual(s1.subarray(sPos, sPos + 32), sDigest);

    // S2 signature: key = HMAC(full 68-byte FMS key, C1 digest), over S2[0..1504].
    const cPos = digestPosition(c1, schema);
    const key = createHmac('sha256', FMS_KEY).update(c1.subarray(cPos, cPos + 32)).digest();
    const sig = createHmac('sha256', key).update(s2.subarray(0, N - 32)).digest();
    assert.deepEqual(s2.subarray(N - 32), sig);

    // C2 signature: key = HMAC(full 62-byte FP key, S1 digest), over C2[0..1504].
    const key2 = createHmac('sha256', FP_KEY).update(sDigest).digest();
    assert.deepEqual(r.c2.subarray(N - 32), createHmac('sha256', key2).update(r.c2.subarray(0, N - 32)).digest());
  });
}

test('key constants: names and lengths', () => {
  assert.equal(FMS_KEY.length, 68);
  assert.equal(FP_KEY.length, 62);
  assert.equal(FMS_KEY_NAME.toString('latin1'), 'Genuine Adobe Flash Media Server 001');
  assert.equal(FP_KEY_NAME.toString('latin1'), 'Genuine Adobe Flash Player 001');
  assert.deepEqual(FMS_KEY.subarray(36), FP_KEY.subarray(30)); // same 32-byte tail
  assert.equal(FMS_KEY[36], 0xf0);
  assert.equal(FMS_KEY[67], 0xae);
});

test('hand-built schema-1 C1 (digest block at 8, offset bytes 00 00 01 02 → digest at 15)', () => {
  const c1 = Buffer.alloc(N, 0x5a);
  c1.writeUInt32BE(0, 0); //           time
  c1.writeUInt32BE(0x09007c02, 4); //  version 9.0.124.2
  c1.set([0x00, 0x00, 0x01, 0x02], 8); // digest block offset bytes: sum 3 → 8 + 4 + 3
  c1.set([0xff, 0xff, 0xff, 0xff], 772); // key block (schema 0 would read 1020 % 728 = 292 here)
  assert.equal(digestPosition(c1, 1), 15);
  assert.equal(digestPosition(c1, 0), 772 + 4 + 292);
  const digest = createHmac('sha256', FP_KEY_NAME)
    .update(Buffer.concat([c1.subarray(0, 15), c1.subarray(47)]))
    .digest();
  digest.copy(c1, 15);
  assert.deepEqual(findDigest(c1, FP_KEY_NAME)?.pos, 15);

  const server = new ServerHandshake({ now: () => 0x01020304 });
  const res = server.push(Buffer.concat([Buffer.from([3]), c1]));
  assert.equal(server.complex, true);
  assert.equal(server.schema, 1);
  const s1 = res.send[0]!.subarray(1, 1 + N);
  assert.equal(s1.readUInt32BE(0), 0x01020304); // S1 time from the clock
  assert.equal(s1.readUInt32BE(4), SERVER_VERSION); // 13.14.10.13
  assert.equal(findDigest(s1, FMS_KEY_NAME)?.schema, 1);
  assert.equal(formatVersion(SERVER_VERSION), '13.14.10.13');
});

test('non-zero C1 version without a valid digest falls back to the plain handshake', () => {
  const c1 = randomBytes(N);
  c1.writeUInt32BE(0x0a000000, 4);
  const server = new ServerHandshake();
  const res = server.push(Buffer.concat([Buffer.from([3]), c1]));
  assert.equal(server.complex, false);
  assert.equal(server.clientVersion, 0x0a000000);
  const out = res.send[0]!;
  assert.equal(out.subarray(1, 1 + N).readUInt32BE(4), 0);
  assert.deepEqual(out.subarray(1 + N), c1); // S2 == C1
});

test('server with complex: false answers a digest C1 plainly, and the client accepts it', () => {
  const r = run(new ClientHandshake(), new ServerHandshake({ complex: false }));
  assert.equal(r.server.complex, false);
  assert.equal(r.client.complex, false);
  assert.equal(r.client.s2Valid, true);
  assert.equal(r.server.c2Valid, true);
  assert.deepEqual(s2Of(r), c1Of(r));
});

test('every split of C0C1 and of C2+chunk bytes gives the same outcome', () => {
  for (const complex of [false, true]) {
    for (let cut = 0; cut <= 1 + N; cut++) {
      // C2 is cut at the same offset (1537 falls inside the chunk bytes).
      const r = run(new ClientHandshake({ complex }), new ServerHandshake(), [cut], [cut]);
      assert.equal(r.server.complex, complex);
      assert.equal(r.server.c2Valid, true);
      assert.equal(r.client.s2Valid, true);
      assert.deepEqual(Buffer.from(r.rest), CHUNK_BYTES, `rest at cut ${cut}`);
    }
  }
});

test('two and three cuts at many offsets', () => {
  const offsets = [0, 1, 2, 5, 8, 9, 12, 13, 100, 764, 772, 773, 776, 1000, 1504, 1505, 1535, 1536, 1537];
  for (const a of offsets) {
    for (const b of offsets) {
      if (b < a) continue;
      const r = run(new ClientHandshake({ schema: a % 2 ? 1 : 0 }), new ServerHandshake(), [a, b], [Math.min(a, N), Math.min(b, N), N + 3]);
      assert.equal(r.server.complex, true);
      assert.equal(r.server.c2Valid, true);
      assert.deepEqual(Buffer.from(r.rest), CHUNK_BYTES);
    }
  }
});

test('byte by byte, both directions', () => {
  for (const complex of [false, true]) {
    const client = new ClientHandshake({ complex });
    const server = new ServerHandshake();
    const c0c1 = client.start();
    const all = Array.from({ length: c0c1.length - 1 }, (_, i) => i + 1);
    const sr = feed(server, c0c1, all);
    assert.equal(sr.send.length, 1);
    const s = sr.send[0]!;
    const cr = feed(client, Buffer.concat([s, CHUNK_BYTES]), Array.from({ length: s.length + CHUNK_BYTES.length - 1 }, (_, i) => i + 1));
    assert.equal(cr.done, true);
    assert.equal(cr.send.length, 1);
    assert.equal(client.s2Valid, true);
    assert.deepEqual(cr.rest, CHUNK_BYTES);
    const c2 = cr.send[0]!;
    let rest: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < c2.length; i++) {
      const res = server.push(c2.subarray(i, i + 1));
      assert.equal(res.done, i === c2.length - 1);
      if (res.done) rest = res.rest;
    }
    assert.equal(rest.length, 0);
    assert.equal(server.complex, complex);
    assert.equal(server.c2Valid, true);
  }
});

test('bytes after S2 reach the client as rest', () => {
  const client = new ClientHandshake();
  const server = new ServerHandshake();
  const s = server.push(client.start()).send[0]!;
  const res = client.push(Buffer.concat([s, CHUNK_BYTES]));
  assert.equal(res.done, true);
  assert.deepEqual(Buffer.from(res.rest), CHUNK_BYTES);
});

test('bad C0 versions are refused, naming the version', () => {
  const cases: Array<[number, RegExp]> = [
    [6, /C0 version 6 is RTMPE/],
    [8, /C0 version 8 is RTMPE/],
    [4, /C0 version 4: only RTMP version 3/],
    [0, /C0 version 0: only RTMP version 3/],
    [0x47, /C0 version 71 \('G': looks like HTTP\)/],
    [0x16, /C0 version 22 \(a TLS ClientHello/],
  ];
  for (const [v, re] of cases) {
    const server = new ServerHandshake();
    // Refused on the first byte, without waiting for C1.
    assert.throws(() => server.push(Buffer.from([v])), isHandshakeError(re));
  }
  assert.throws(() => new ServerHandshake().push(Buffer.from('GET / HTTP/1.1\r\n\r\n')), isHandshakeError(/HTTP/));
});

test('bad S0 version is refused by the client', () => {
  const client = new ClientHandshake();
  client.start();
  assert.throws(() => client.push(Buffer.from([6])), isHandshakeError(/S0 version 6 is RTMPE/));
});

test('truncated input: nothing sent, not done, end() names where it stopped', () => {
  const server = new ServerHandshake();
  const c0c1 = new ClientHandshake().start();
  assert.throws(() => server.end(), isHandshakeError(/waiting for C0$/));
  const res = server.push(c0c1.subarray(0, 700));
  assert.deepEqual(res.send, []);
  assert.equal(res.done, false);
  assert.equal(res.rest.length, 0);
  assert.throws(() => server.end(), isHandshakeError(/waiting for C1 \(699 of 1536 bytes\)/));
  server.push(c0c1.subarray(700));
  server.push(new Uint8Array(10));
  assert.throws(() => server.end(), isHandshakeError(/waiting for C2 \(10 of 1536 bytes\)/));

  const client = new ClientHandshake();
  client.start();
  client.push(new Uint8Array([3, 0, 0]));
  assert.throws(() => client.end(), isHandshakeError(/waiting for S1 \(2 of 1536 bytes\)/));
});

test('empty pushes are harmless', () => {
  const r = run(new ClientHandshake(), new ServerHandshake(), [0, 0, 0], [0, 0]);
  assert.equal(r.server.c2Valid, true);
  const server = new ServerHandshake();
  assert.deepEqual(server.push(new Uint8Array(0)), { send: [], done: false, rest: new Uint8Array(0) });
});

test('push after done throws; end() after done is quiet', () => {
  const r = run(new ClientHandshake());
  assert.doesNotThrow(() => r.server.end());
  assert.doesNotThrow(() => r.client.end());
  assert.throws(() => r.server.push(Buffer.from([3])), isHandshakeError(/after the handshake completed/));
  assert.throws(() => r.client.push(Buffer.from([3])), isHandshakeError(/after the handshake completed/));
});

test('client misuse: push before start, start twice', () => {
  const client = new ClientHandshake();
  assert.throws(() => client.push(Buffer.from([3])), isHandshakeError(/before start/));
  client.start();
  assert.throws(() => client.start(), isHandshakeError(/twice/));
});

test('client refuses a digest S1 that does not verify', () => {
  const client = new ClientHandshake();
  const server = new ServerHandshake();
  const s = Buffer.from(server.push(client.start()).send[0]!);
  s[1 + 100]! ^= 0xff; // flip one S1 byte outside the header
  assert.throws(() => client.push(s), isHandshakeError(/S1 digest does not verify .*13\.14\.10\.13/));
});

test('garbage C2 completes the handshake but is flagged', () => {
  for (const complex of [false, true]) {
    const client = new ClientHandshake({ complex });
    const server = new ServerHandshake();
    server.push(client.start());
    const res = server.push(Buffer.concat([randomBytes(N), CHUNK_BYTES]));
    assert.equal(res.done, true);
    assert.equal(server.c2Valid, false);
    assert.deepEqual(Buffer.from(res.rest), CHUNK_BYTES);
  }
});

test('client accepts a server that echoes C1 as S1 (nginx-rtmp old style)', () => {
  const client = new ClientHandshake();
  const c0c1 = client.start();
  const c1 = c0c1.subarray(1);
  const res = client.push(Buffer.concat([Buffer.from([3]), c1, c1]));
  assert.equal(res.done, true);
  assert.equal(client.complex, false);
  assert.equal(client.s2Valid, true);
  assert.deepEqual(res.send[0], Buffer.from(c1)); // C2 echoes S1
});

test('client flags an S2 whose signature is wrong', () => {
  const client = new ClientHandshake();
  const server = new ServerHandshake();
  const s = Buffer.from(server.push(client.start()).send[0]!);
  s[s.length - 1]! ^= 0x01;
  const res = client.push(s);
  assert.equal(res.done, true);
  assert.equal(client.complex, true);
  assert.equal(client.s2Valid, false);
});

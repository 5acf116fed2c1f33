/**
 * The load generator's WebSocket framing (loadtest/ws-frames.ts) and its
 * WS-FLV player (loadtest/flv-over-http.ts): frames split at every point,
 * control frames between fragments, what a server must not send, and a
 * fake server that pings, sends FLV in fragments and closes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { SluiceError } from '../../src/core/errors.js';
import { encodeTag, flvFileHeader } from '../../src/protocol/flv-tag.js';
import { WsFrames, WsOpcode, clientControlFrame, closeCodeOf } from '../../loadtest/ws-frames.js';
import { openPlayer } from '../../loadtest/play-transports.js';
import { waitFor } from '../helpers/net.js';

/** A server frame: FIN unless `more`, unmasked, with the shortest length form. */
function frame(opcode: number, payload: Buffer, more = false): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0, n]) : n < 65536 ? Buffer.from([0, 126, n >> 8, n & 0xff]) : Buffer.alloc(10);
  if (n >= 65536) {
    head[1] = 127;
    head.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    head.writeUInt32BE(n >>> 0, 6);
  }
  head[0] = (more ? 0 : 0x80) | opcode;
  return Buffer.concat([head, payload]);
}

const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (seed + i * 13) & 0xff));

function decodeAll(chunks: Buffer[]): { data: Buffer; controls: [number, string][] } {
  const controls: [number, string][] = [];
  const d = new WsFrames((op, p) => controls.push([op, p.toString('hex')]));
  // Copies in: the decoder rewrites what it is given.
  const data = Buffer.concat(chunks.map((c) => d.push(Buffer.from(c))));
  return { data, controls };
}

test('binary payload across every split point, with all three length forms and control frames between fragments', () => {
  const a = bytes(100, 1);
  const b = bytes(300, 2);
  const c = bytes(70_000, 3);
  const wire = Buffer.concat([
    frame(WsOpcode.Binary, a),
    frame(WsOpcode.Binary, b.subarray(0, 120), true),
    frame(WsOpcode.Ping, Buffer.from('hi')),
    frame(WsOpcode.Continuation, b.subarray(120)),
    frame(WsOpcode.Pong, Buffer.alloc(0)),
    frame(WsOpcode.Binary, c),
    frame(WsOpcode.Binary, Buffer.alloc(0)),
  ]);
  const want = Buffer.concat([a, b, c]);
  const controls: [number, string][] = [[WsOpcode.Ping, Buffer.from('hi').toString('hex')], [WsOpcode.Pong, '']];
  assert.deepEqual(decodeAll([wire]), { data: want, controls });
  for (let at = 0; at <= 700; at++) {
    const got = decodeAll([wire.subarray(0, at), wire.subarray(at)]);
    assert.ok(got.data.equals(want), `split at ${at}`);
    assert.deepEqual(got.controls, controls, `split at ${at}`);
  }
  const byByte = decodeAll([...wire.subarray(0, 1000)].map((x) => Buffer.from([x])));
  assert.ok(byByte.data.equals(want.subarray(0, byByte.data.length)) && byByte.data.length > 0, 'byte by byte');
});

test('a Close frame ends the decoding, left for the caller after the data before it; its code is read', () => {
  const close = Buffer.from([0x03, 0xe9]); // 1001
  const controls: number[] = [];
  const d = new WsFrames((op) => controls.push(op));
  const data = d.push(Buffer.concat([frame(WsOpcode.Binary, bytes(10, 0)), frame(WsOpcode.Close, close), frame(WsOpcode.Binary, bytes(10, 9))]));
  assert.ok(data.equals(bytes(10, 0)), 'the data before the Close, nothing after it');
  assert.deepEqual(controls, [], 'a Close is not reported from inside the read');
  assert.equal(d.closed, true);
  assert.ok(d.closePayload?.equals(close));
  assert.equal(closeCodeOf(close), 1001);
  assert.equal(closeCodeOf(Buffer.alloc(0)), 1005);
});

test('what a server must not send is ERR_PROTOCOL', () => {
  const masked = frame(WsOpcode.Binary, bytes(4, 0));
  masked[1]! |= 0x80;
  const rsv = frame(WsOpcode.Binary, bytes(4, 0));
  rsv[0]! |= 0x40;
  const cases: [string, Buffer, RegExp][] = [
    ['masked', masked, /masked/],
    ['reserved bits', rsv, /reserved/],
    ['text', frame(WsOpcode.Text, Buffer.from('x')), /text/],
    ['stray continuation', frame(WsOpcode.Continuation, bytes(3, 0)), /continuation/],
    ['new message inside one', Buffer.concat([frame(WsOpcode.Binary, bytes(3, 0), true), frame(WsOpcode.Binary, bytes(3, 0))]), /inside/],
    ['fragmented ping', frame(WsOpcode.Ping, bytes(3, 0), true), /fragmented/],
    ['long ping', frame(WsOpcode.Ping, bytes(126, 0)), /125/],
    ['unknown opcode', frame(3, bytes(3, 0)), /opcode 3/],
  ];
  for (const [what, wire, re] of cases) {
    assert.throws(() => new WsFrames(() => undefined).push(Buffer.from(wire)), (e: unknown) => e instanceof SluiceError && e.code === 'ERR_PROTOCOL' && re.test(e.message), what);
  }
  assert.throws(() => new WsFrames(() => undefined, 1000).push(frame(WsOpcode.Binary, bytes(1001, 0))), /over 1000/);
});

test('client control frames are masked and carry the payload', () => {
  const f = clientControlFrame(WsOpcode.Pong, Buffer.from('ping!'));
  assert.equal(f[0], 0x80 | WsOpcode.Pong);
  assert.equal(f[1], 0x80 | 5);
  const mask = f.subarray(2, 6);
  assert.equal(Buffer.from(f.subarray(6).map((x, i) => x ^ mask[i & 3]!)).toString(), 'ping!');
  assert.throws(() => clientControlFrame(WsOpcode.Ping, Buffer.alloc(126)), RangeError);
});

/** Unmasks the client's frames in one read (for the fake server; the client only sends short control frames). */
function clientFrames(d: Buffer): { opcode: number; payload: Buffer }[] {
  const out: { opcode: number; payload: Buffer }[] = [];
  for (let at = 0; at + 6 <= d.length; ) {
    const n = d[at + 1]! & 0x7f;
    const mask = d.subarray(at + 2, at + 6);
    out.push({ opcode: d[at]! & 0x0f, payload: Buffer.from(d.subarray(at + 6, at + 6 + n).map((x, i) => x ^ mask[i & 3]!)) });
    at += 6 + n;
  }
  return out;
}

test('WS-FLV player against a fake server: handshake checked, ping answered, fragmented FLV demuxed, the server\'s Close reported with its code', { timeout: 10_000 }, async () => {
  const tags = [encodeTag(18, 0, bytes(30, 1)), encodeTag(9, 0, bytes(2000, 2)), encodeTag(8, 20, bytes(50, 3))];
  const flv = Buffer.concat([flvFileHeader({ audio: true, video: true }), ...tags]);
  const fromClient: { opcode: number; payload: Buffer }[] = [];
  const server = net.createServer((s) => {
    let head = '';
    s.on('data', (d) => {
      if (head.includes('\r\n\r\n')) return void fromClient.push(...clientFrames(d));
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: (.*)\r\n/i.exec(head)![1]!;
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      // The FLV cut anywhere (mid-tag), a ping between the fragments, then a Close (1001, going away).
      s.write(Buffer.concat([frame(WsOpcode.Binary, flv.subarray(0, 700), true), frame(WsOpcode.Ping, Buffer.from('p1'))]));
      setTimeout(() => s.write(Buffer.concat([frame(WsOpcode.Continuation, flv.subarray(700)), frame(WsOpcode.Close, Buffer.from([0x03, 0xe9]))])), 50);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const got: [number, number][] = [];
    const order: string[] = [];
    let closed: Error | undefined;
    const ended = new Promise<void>((resolve) => {
      void openPlayer({ index: 0, stream: 0, name: 's', protocol: 'ws-flv', url: `ws://127.0.0.1:${port}/live/s.flv` }, 3000, {
        onPlayRequested: () => undefined,
        onConnected: () => undefined,
        onTag: (type, payload) => {
          got.push([type, payload.length]);
          order.push('tag');
        },
        onBytes: () => undefined,
        onClose: (err) => {
          closed = err;
          order.push('close');
          resolve();
        },
      });
    });
    await ended;
    assert.deepEqual(got, [[18, 30], [9, 2000], [8, 50]], 'every tag, whole');
    assert.deepEqual(order, ['tag', 'tag', 'tag', 'close'], 'the tags that came in the read with the Close are reported before it');
    assert.match(String(closed), /closed by the server \(1001\)/);
    await waitFor(() => fromClient.length >= 2, 2000, 'the Close answered');
    assert.deepEqual(
      fromClient.map((f) => [f.opcode, f.payload.toString('hex')]),
      [[WsOpcode.Pong, Buffer.from('p1').toString('hex')], [WsOpcode.Close, '03e9']],
      'the ping answered with its payload, the Close with its code',
    );
  } finally {
    server.close();
  }
});

test('WS-FLV player: our own close() sends a Close (1000) and reports no error', { timeout: 10_000 }, async () => {
  const flv = Buffer.concat([flvFileHeader({ audio: false, video: true }), encodeTag(9, 0, bytes(100, 5))]);
  const fromClient: { opcode: number; payload: Buffer }[] = [];
  const server = net.createServer((s) => {
    let up = false;
    s.on('data', (d) => {
      if (up) {
        const frames = clientFrames(d);
        fromClient.push(...frames);
        // Answer the Close as a server does, then close the TCP connection.
        if (frames.some((f) => f.opcode === WsOpcode.Close)) s.end(frame(WsOpcode.Close, Buffer.from([0x03, 0xe8])));
        return;
      }
      const key = /sec-websocket-key: (.*)\r\n/i.exec(d.toString('latin1'))![1]!;
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      up = true;
      // The 101 and the first frame in one write.
      s.write(Buffer.concat([Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`), frame(WsOpcode.Binary, flv)]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as net.AddressInfo).port;
    let tags = 0;
    let closeErr: Error | undefined | 'not yet' = 'not yet';
    const conn = await openPlayer({ index: 0, stream: 0, name: 's', protocol: 'ws-flv', url: `ws://127.0.0.1:${port}/live/s.flv` }, 3000, {
      onPlayRequested: () => undefined,
      onConnected: () => undefined,
      onTag: () => void tags++,
      onBytes: () => undefined,
      onClose: (err) => void (closeErr = err),
    });
    await waitFor(() => tags === 1, 2000, 'the tag that came with the 101');
    await conn.close();
    assert.equal(closeErr, undefined, 'a close we asked for is no error');
    assert.deepEqual(fromClient.map((f) => [f.opcode, f.payload.toString('hex')]), [[WsOpcode.Close, '03e8']]);
  } finally {
    server.close();
  }
});

test('WS-FLV player: a wrong Sec-WebSocket-Accept fails the open', { timeout: 10_000 }, async () => {
  const server = net.createServer((s) => s.once('data', () => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm90IHRoZSBvbmU=\r\n\r\n')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const h = { onPlayRequested: () => undefined, onConnected: () => undefined, onTag: () => undefined, onBytes: () => undefined, onClose: () => undefined };
    await assert.rejects(openPlayer({ index: 0, stream: 0, name: 's', protocol: 'ws-flv', url: `ws://127.0.0.1:${port}/live/s.flv` }, 3000, h), /Sec-WebSocket-Accept/);
  } finally {
    server.close();
  }
});

test('WS-FLV player: a frame a server must not send ends that player with ERR_PROTOCOL; a second player on the thread plays on', { timeout: 10_000 }, async () => {
  const flv = Buffer.concat([flvFileHeader({ audio: false, video: true }), encodeTag(9, 0, bytes(100, 5))]);
  const server = net.createServer((s) => {
    s.once('data', (d) => {
      const req = d.toString('latin1');
      const key = /sec-websocket-key: (.*)\r\n/i.exec(req)![1]!;
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const bad = req.startsWith('GET /live/bad');
      const masked = frame(WsOpcode.Binary, bytes(4, 0));
      masked[1]! |= 0x80;
      s.write(Buffer.concat([Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`), frame(WsOpcode.Binary, flv)]));
      setTimeout(() => s.write(bad ? masked : frame(WsOpcode.Binary, encodeTag(9, 40, bytes(100, 6)))), 50);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const open = (name: string) => {
      const r = { tags: 0, closed: undefined as Error | undefined, ended: false };
      const conn = openPlayer({ index: 0, stream: 0, name, protocol: 'ws-flv', url: `ws://127.0.0.1:${port}/live/${name}.flv` }, 3000, {
        onPlayRequested: () => undefined,
        onConnected: () => undefined,
        onTag: () => void r.tags++,
        onBytes: () => undefined,
        onClose: (err) => {
          r.closed = err;
          r.ended = true;
        },
      });
      return { r, conn };
    };
    const bad = open('bad');
    const good = open('good');
    await waitFor(() => bad.r.ended && good.r.tags === 2, 3000, 'the bad player ended, the good one got both tags');
    assert.ok(bad.r.closed instanceof SluiceError && bad.r.closed.code === 'ERR_PROTOCOL', String(bad.r.closed));
    assert.match(String((bad.r.closed as SluiceError).cause), /masked/);
    assert.equal(bad.r.tags, 1, 'what came before the bad frame was delivered');
    assert.equal(good.r.ended, false, 'the other player is not touched');
    await (await good.conn).close();
  } finally {
    server.close();
  }
});

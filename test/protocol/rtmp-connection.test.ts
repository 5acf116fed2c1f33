/**
 * The socket-free RTMP connection machine (src/protocol/rtmp-connection.ts):
 * a client machine and a server machine wired back to back in memory, and
 * the server fed byte strings split at every offset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientHandshake, ServerHandshake } from '../../src/protocol/handshake.js';
import { RtmpConnection, type ConnectionHooks, type PeerControl } from '../../src/protocol/rtmp-connection.js';
import { encodeMessage } from '../../src/protocol/chunk-writer.js';
import * as control from '../../src/protocol/control.js';
import { MessageType, type MessageHeader } from '../../src/protocol/types.js';
import { throwsCode } from '../helpers/bytes.js';

const LIMITS = { maxChunkSize: 0xffffff, maxMessageSize: 1 << 20, maxChunkStreams: 64 };

interface Side {
  conn: RtmpConnection;
  out: Buffer[];
  controls: PeerControl[];
  messages: { h: MessageHeader; payload: Buffer }[];
  handshakes: number;
}

function side(handshake: ServerHandshake | ClientHandshake, write?: (b: Buffer) => void): Side {
  const s = { out: [], controls: [], messages: [], handshakes: 0 } as unknown as Side;
  const hooks: ConnectionHooks = {
    write: (b) => {
      s.out.push(b);
      write?.(b);
      return true;
    },
    handshakeDone: () => s.handshakes++,
    payloadFor: (h) => Buffer.alloc(h.length),
    abandoned: () => undefined,
    control: (c) => s.controls.push(c),
    message: (h, payload) => s.messages.push({ h, payload: Buffer.from(payload) }),
  };
  s.conn = new RtmpConnection(handshake, hooks, LIMITS);
  return s;
}

/** Client and server, each writing straight into the other. */
function pair(): { client: Side; server: Side } {
  let server!: Side;
  // Writes are delivered after the current push returns, as a socket would.
  const queue: [Side, Buffer][] = [];
  let flushing = false;
  const deliver = (to: () => Side, b: Buffer): void => {
    queue.push([to(), b]);
    if (flushing) return;
    flushing = true;
    while (queue.length > 0) {
      const [s, bytes] = queue.shift()!;
      s.conn.push(bytes);
    }
    flushing = false;
  };
  const clientHs = new ClientHandshake({ complex: true });
  const client = side(clientHs, (b) => deliver(() => server, b));
  server = side(new ServerHandshake(), (b) => deliver(() => client, b));
  client.conn.sendRaw(clientHs.start());
  return { client, server };
}

const header = (type: number, length: number, csid = 3, streamId = 0, timestamp = 0): MessageHeader => ({ csid, type, timestamp, length, streamId });

test('a client and a server machine complete the digest handshake and exchange messages', () => {
  const { client, server } = pair();
  assert.equal(client.handshakes, 1);
  assert.equal(server.handshakes, 1);
  assert.equal(server.conn.phase, 'chunks');
  const body = Buffer.from('hello, server');
  assert.equal(client.conn.send(header(MessageType.CommandAmf0, body.length), body), true);
  assert.equal(server.messages.length, 1);
  assert.deepEqual(server.messages[0]!.payload, body);
  // Every byte both ways is counted, the 1 + 1536 + 1536 handshake bytes included.
  assert.equal(client.conn.stats.bytesOut, server.conn.stats.bytesIn);
  assert.equal(server.conn.stats.bytesOut, client.conn.stats.bytesIn);
  assert.ok(client.conn.stats.bytesOut >= 3073 + body.length);
});

test('Set Chunk Size is applied at once: the rest of the same read is parsed with the new size', () => {
  const { server } = pair();
  const big = Buffer.alloc(3000, 7);
  const scs = control.setChunkSize(4096);
  // One read: the Set Chunk Size (at 128) and a 3000-byte message in one 4096-byte chunk.
  server.conn.push(Buffer.concat([encodeMessage(scs.header, scs.payload, 128), encodeMessage(header(MessageType.Video, big.length, 6, 1), big, 4096)]));
  assert.deepEqual(server.controls[0], { type: 'SetChunkSize', value: 4096 });
  assert.equal(server.conn.peerChunkSize, 4096);
  assert.equal(server.messages.length, 1);
  assert.deepEqual(server.messages[0]!.payload, big);
});

test('acknowledgements: one whenever a window of bytes has arrived since the last, counted from the end of the handshake', () => {
  const { client, server } = pair();
  server.conn.sendControl(control.windowAckSize(1000));
  assert.equal(client.conn.peerWindow, 1000);
  const before = client.conn.stats.bytesIn;
  const body = Buffer.alloc(400);
  const expected: number[] = [];
  let received = 12 + 4; // the Window Acknowledgement Size message itself (basic 1 + header 11 + body 4)
  let lastAck = 0;
  for (let i = 0; i < 10; i++) {
    const sentBefore = server.conn.stats.bytesOut;
    server.conn.send(header(MessageType.Audio, body.length, 4, 1, i), body);
    received += server.conn.stats.bytesOut - sentBefore;
    if (received - lastAck >= 1000) expected.push((lastAck = received));
  }
  const acks = server.controls.filter((c) => c.type === 'Acknowledgement').map((a) => (a as { value: number }).value);
  assert.deepEqual(acks, expected, `after ${client.conn.stats.bytesIn - before} bytes`);
  assert.ok(acks.length >= 3);
  assert.equal(client.conn.stats.acksSent, acks.length);
  assert.equal(server.conn.stats.acksReceived, acks.length);
});

test('a Ping Request is answered with the same time, and both sides report it', () => {
  const { client, server } = pair();
  server.conn.sendControl(control.pingRequest(123456));
  assert.deepEqual(client.controls.at(-1), { type: 'UserControl', event: { event: 'PingRequest', time: 123456 } });
  assert.deepEqual(server.controls.at(-1), { type: 'UserControl', event: { event: 'PingResponse', time: 123456 } });
  assert.equal(client.conn.stats.pingsAnswered, 1);
});

test('every control message type is reported once, after it was applied; others go up as messages', () => {
  const s = side(new ServerHandshake());
  // Skip the handshake: drive a machine already in the chunk phase.
  const c = new ClientHandshake({ complex: false });
  const c0c1 = c.start();
  s.conn.push(c0c1);
  const s0s1s2 = Buffer.concat(s.out);
  const c2 = Buffer.concat(c.push(s0s1s2).send);
  const wire = Buffer.concat([
    c2,
    encodeMessage(control.setChunkSize(300).header, control.setChunkSize(300).payload, 128),
    encodeMessage(control.abortMessage(9).header, control.abortMessage(9).payload, 300),
    encodeMessage(control.acknowledgement(77).header, control.acknowledgement(77).payload, 300),
    encodeMessage(control.windowAckSize(5000).header, control.windowAckSize(5000).payload, 300),
    encodeMessage(control.setPeerBandwidth(6000, 1).header, control.setPeerBandwidth(6000, 1).payload, 300),
    encodeMessage(control.setBufferLength(1, 1500).header, control.setBufferLength(1, 1500).payload, 300),
    encodeMessage(header(MessageType.DataAmf0, 250, 5, 1), Buffer.alloc(250, 1), 300),
  ]);
  // Every split of the same bytes gives the same outcome.
  for (let cut = 0; cut <= wire.length; cut += 7) {
    const t = side(new ServerHandshake());
    t.conn.push(c0c1);
    t.conn.push(wire.subarray(0, cut));
    t.conn.push(wire.subarray(cut));
    assert.deepEqual(
      t.controls.map((x) => x.type),
      ['SetChunkSize', 'Abort', 'Acknowledgement', 'WindowAckSize', 'SetPeerBandwidth', 'UserControl'],
      `split at ${cut}`,
    );
    assert.deepEqual(t.controls[4], { type: 'SetPeerBandwidth', value: 6000, limitType: 1 });
    assert.deepEqual(t.controls[5], { type: 'UserControl', event: { event: 'SetBufferLength', streamId: 1, bufferMs: 1500 } });
    assert.equal(t.conn.peerWindow, 5000);
    assert.equal(t.messages.length, 1, `split at ${cut}`);
    assert.equal(t.messages[0]!.h.type, MessageType.DataAmf0);
    assert.equal(t.messages[0]!.payload.length, 250);
  }
});

test('nothing is sent before the handshake is done or after close, and a closed machine parses nothing', () => {
  const s = side(new ServerHandshake());
  assert.equal(s.conn.send(header(MessageType.CommandAmf0, 1), Buffer.alloc(1)), false);
  assert.equal(s.out.length, 0);
  const { client, server } = pair();
  server.conn.close();
  assert.equal(server.conn.send(header(MessageType.CommandAmf0, 1), Buffer.alloc(1)), false);
  client.conn.send(header(MessageType.CommandAmf0, 3), Buffer.from('abc'));
  assert.equal(server.messages.length, 0);
});

test('protocol errors are thrown to the caller of push()', () => {
  const { client, server } = pair();
  // A Window Acknowledgement Size of 2 bytes instead of 4.
  const bad = encodeMessage(header(MessageType.WindowAckSize, 2, 2), Buffer.alloc(2), 128);
  throwsCode(() => server.conn.push(bad), 'ERR_PROTOCOL');
  // Handshake garbage: a C0 that is not version 3.
  const fresh = side(new ServerHandshake());
  throwsCode(() => fresh.conn.push(Buffer.from([6])), 'ERR_HANDSHAKE');
  assert.equal(client.conn.phase, 'chunks');
});

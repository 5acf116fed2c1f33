/**
 * WsFlvPlayer.send (src/http/ws-flv-player.ts): pieces split into messages
 * under the cork buffer, and a message uWS dropped ends that player with
 * a coded error instead of leaving a gap in its FLV.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WsFlvPlayer, WS_MAX_MESSAGE } from '../../src/http/ws-flv-player.js';
import { encodeTag } from '../../src/protocol/flv-tag.js';

/** A uWS WebSocket stand-in: send() answers from `replies` (1 ok, 0 backpressure, 2 dropped), then 1. */
function fakeWs(replies: number[]) {
  const sent: Buffer[] = [];
  const ends: [number, string][] = [];
  return {
    sent,
    ends,
    cork: (fn: () => void) => fn(),
    send: (b: Buffer) => (sent.push(Buffer.from(b)), replies.shift() ?? 1),
    end: (code: number, why: string) => ends.push([code, why]),
    close: () => ends.push([0, 'abort']),
    getBufferedAmount: () => 0,
  };
}

function player(ws: ReturnType<typeof fakeWs>) {
  const counters = { sessionErrors: {} as Record<string, number>, tagsDropped: 0, flv: { 'ws-flv': { bytesOut: 0, connections: 0 } } };
  const ctx = { log: { child: () => ({ warn: () => {}, info: () => {} }) }, counters, flvPlayers: new Set() };
  const lease = { stream: { key: 'live/x', slab: { hasAudio: true }, hasVideo: true }, release: () => {} };
  const p = new WsFlvPlayer(ctx as never, lease as never, { id: 1, peer: '127.0.0.1' }, ws as never);
  p.sub = { tagsDropped: 0 } as never;
  return { p, counters };
}

test('a 100 KB tag goes out as messages no larger than WS_MAX_MESSAGE, byte for byte', () => {
  const ws = fakeWs([]);
  const { p } = player(ws);
  const tag = encodeTag(9, 0, Buffer.alloc(100_000, 7));
  p.write([tag]);
  assert.ok(ws.sent.every((m) => m.length <= WS_MAX_MESSAGE), `largest ${Math.max(...ws.sent.map((m) => m.length))}`);
  assert.equal(Buffer.concat(ws.sent).subarray(13 + 11).equals(tag.subarray(11)), true, 'after the FLV header and the player\'s tag header, the tail whole');
  assert.deepEqual(ws.ends, []);
});

test('a message uWS dropped ends the player with ERR_SLOW_CONSUMER and a 1008 close; nothing more is sent', () => {
  const ws = fakeWs([1, 1, 2]);
  const { p, counters } = player(ws);
  p.write([encodeTag(9, 0, Buffer.alloc(60_000, 1)), encodeTag(9, 40, Buffer.alloc(500, 2))]);
  assert.equal(ws.sent.length, 3, 'the send after the dropped one never happens');
  assert.equal(counters.sessionErrors.ERR_SLOW_CONSUMER, 1);
  assert.equal(ws.ends.length, 1);
  assert.equal(ws.ends[0]![0], 1008);
  assert.match(ws.ends[0]![1], /dropped/);
  p.write([encodeTag(9, 80, Buffer.alloc(10, 3))]);
  assert.equal(ws.sent.length, 3, 'an ended player writes nothing');
});

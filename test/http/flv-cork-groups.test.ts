/**
 * FlvPlayer.write sends a batch in cork groups that fit uWS's 16 KB cork
 * buffer (src/http/flv-player.ts): a group that overflowed it would leave
 * the socket uncorked for the rest of the batch, one send(2) per piece.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlvPlayer } from '../../src/http/flv-player.js';
import { encodeTag } from '../../src/protocol/flv-tag.js';
import { FlvDemuxer } from '../../src/protocol/flv-tag.js';

class Probe extends FlvPlayer {
  groups: Buffer[][] = [];
  corks = true;
  /** Sends accepted before the transport reports backpressure (it keeps what it was given, as uWS does). */
  accept = Infinity;
  constructor() {
    const ctx = { log: { child: () => ({}) } };
    const lease = { stream: { slab: { hasAudio: true }, hasVideo: true } };
    super(ctx as never, lease as never, { id: 1, peer: '127.0.0.1' }, 'http-flv');
  }
  get writableLength(): number {
    return 0;
  }
  protected cork(fn: () => void): void {
    if (!this.corks) return;
    this.groups.push([]);
    fn();
  }
  protected onFirstWrite(): void {}
  protected send(chunk: Buffer): boolean {
    this.groups.at(-1)!.push(Buffer.from(chunk));
    return --this.accept > 0;
  }
  protected finish(): void {}
}

const tag = (i: number, size: number): Buffer => encodeTag(i % 3 === 0 ? 8 : 9, i * 20, Buffer.alloc(size, i));

test('a 1 MB batch goes out in cork groups under 16 KB (a tag larger than that alone in its group), every byte in order', () => {
  const sizes = [376, 9000, 376, 376, 120_000, 376, 15_900, 200, ...Array.from({ length: 120 }, (_, i) => (i % 4 === 0 ? 24_000 : 2000 + i * 37))];
  const chunks = sizes.map((n, i) => tag(i, n));
  const p = new Probe();
  p.write(chunks);
  const groupBytes = p.groups.map((g) => g.reduce((n, b) => n + b.length, 0));
  for (const [k, g] of p.groups.entries()) {
    const tags = g.length / 2;
    assert.ok(groupBytes[k]! <= 16 * 1024 - 256 || tags === 1, `group ${k}: ${groupBytes[k]} bytes in ${tags} tags`);
  }
  // Groups are filled: the next group's first tag would not have fitted in the one before.
  for (let k = 0; k + 1 < p.groups.length; k++) {
    const next = p.groups[k + 1]!;
    assert.ok(groupBytes[k]! + next[0]!.length + next[1]!.length > 16 * 1024 - 256 - 128, `group ${k} (${groupBytes[k]} bytes) could have taken the next tag`);
  }
  assert.ok(p.groups.some((g) => g.length > 4), 'small tags share a group');
  const demux = new FlvDemuxer({ maxTagSize: 1 << 20 });
  const got = demux.push(Buffer.concat(p.groups.flat()));
  assert.deepEqual(got.map((t) => t.data.length), sizes, 'every tag, whole, in order');
  assert.deepEqual(got.map((t) => t.data[0]), sizes.map((_, i) => i & 0xff));
});

test('backpressure part-way through a batch: the rest is held and sent once at its end, every byte in order', () => {
  const sizes = Array.from({ length: 40 }, (_, i) => 3000 + i * 101);
  const p = new Probe();
  p.accept = 7;
  p.write(sizes.map((n, i) => tag(i, n)));
  const sends = p.groups.flat();
  assert.equal(sends.length, 8, '7 pieces accepted one by one, then the held rest in one send');
  const got = new FlvDemuxer({ maxTagSize: 1 << 20 }).push(Buffer.concat(sends));
  assert.deepEqual(got.map((t) => t.data.length), sizes);
});

test('a transport that stops corking (a closed WebSocket) ends the batch instead of looping', () => {
  const p = new Probe();
  p.corks = false;
  p.write([tag(1, 100), tag(2, 100)]);
  assert.equal(p.groups.length, 0);
});

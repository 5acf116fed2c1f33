import { test } from 'node:test';
import assert from 'node:assert/strict';
import { opusPacketSamples, parseOpusHead } from '../../src/protocol/opus.js';

/** RFC 7845 5.1: magic, version 1, channels, pre-skip, input rate, gain (all little-endian), mapping family. */
function head(channels: number, family = 0, extra: number[] = []): Buffer {
  const b = Buffer.alloc(19);
  b.write('OpusHead', 0, 'latin1');
  b[8] = 1;
  b[9] = channels;
  b.writeUInt16LE(312, 10);
  b.writeUInt32LE(44100, 12);
  b.writeInt16LE(-256, 16);
  b[18] = family;
  return Buffer.concat([b, Buffer.from(extra)]);
}

test('OpusHead: little-endian fields, the channel mapping of family 1', () => {
  assert.deepEqual(parseOpusHead(head(2)), { channels: 2, preSkip: 312, inputSampleRate: 44100, outputGain: -256, mappingFamily: 0, mapping: undefined });
  const six = parseOpusHead(head(6, 1, [4, 2, 0, 4, 1, 2, 3, 5]));
  assert.deepEqual([six.mapping!.streams, six.mapping!.coupled, [...six.mapping!.table]], [4, 2, [0, 4, 1, 2, 3, 5]]);
});

test('OpusHead that cannot be right is a coded error naming why', () => {
  const bad: [Buffer, RegExp][] = [
    [Buffer.from('OpusTags'), /not an OpusHead/],
    [head(2).subarray(0, 18), /not an OpusHead/],
    [Object.assign(head(2), { 8: 0x10 }), /version 16/],
    [head(0), /0 channels/],
    [head(3), /family 0 with 3 channels/],
    [head(6, 1, [4, 2, 0]), /truncated/],
    [head(2, 1, [0, 0, 0, 1]), /0 streams/],
  ];
  for (const [b, why] of bad) assert.throws(() => parseOpusHead(b), (e: Error & { code?: string }) => e.code === 'ERR_CODEC' && why.test(e.message), why.source);
});

test('Opus packet durations from the TOC byte (RFC 6716 3.1)', () => {
  // config 11 (SILK 60 ms) code 0; config 31 (CELT 20 ms) code 1 (two frames); config 16 (CELT 2.5 ms) code 3 with 4 frames; hybrid 10 ms.
  assert.equal(opusPacketSamples(Buffer.from([11 << 3])), 2880);
  assert.equal(opusPacketSamples(Buffer.from([(31 << 3) | 1])), 1920);
  assert.equal(opusPacketSamples(Buffer.from([(16 << 3) | 3, 4])), 480);
  assert.equal(opusPacketSamples(Buffer.from([12 << 3])), 480);
  assert.equal(opusPacketSamples(Buffer.alloc(0)), 0);
  assert.equal(opusPacketSamples(Buffer.from([(16 << 3) | 3])), 0, 'code 3 without its frame count');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAggregate, splitAggregate, type AggregateTag } from '../../src/protocol/aggregate.js';
import type { MessageHeader } from '../../src/protocol/types.js';
import { hex, throwsCode } from '../helpers/bytes.js';

const H: MessageHeader = { csid: 6, type: 22, timestamp: 1000, length: 0, streamId: 1 };

test('aggregate: sub-messages split, timestamps relative to the first', () => {
  const body = hex(
    '09 000002 000064 00 000000', // video, size 2, ts 100, ext 0, stream 0
    'aabb',
    '0000000d', //                     back pointer 11 + 2
    '08 000001 00006e 00 000000', // audio, size 1, ts 110
    'cc',
    '0000000c',
    '09 000001 ffffff 01 000000', // video, size 1, ts 0x01ffffff (ext byte 01)
    'dd',
    '0000000c',
  );
  const got: [number, number, string][] = [];
  splitAggregate(H, body, (sub, b) => got.push([sub.type, sub.timestamp, Buffer.from(b).toString('hex')]));
  assert.deepEqual(got, [
    [9, 1000, 'aabb'],
    [8, 1010, 'cc'],
    [9, 1000 + 0x01ffffff - 100, 'dd'],
  ]);
});

test('aggregate: a truncated sub-message is ERR_PROTOCOL', () => {
  const body = hex('09 000005 000000 00 000000 aabb');
  throwsCode(() => splitAggregate(H, body, () => {}), 'ERR_PROTOCOL', /aggregate sub-message body/);
});

test('aggregate: build then split gives back the tags, timestamps rebased on the message', () => {
  const tags: AggregateTag[] = [
    { type: 9, timestamp: 100, payload: hex('aabb') },
    { type: 8, timestamp: 110, payload: hex('cc') },
    { type: 18, timestamp: 120, payload: new Uint8Array(0) }, // an empty body still has its header and back pointer
    { type: 9, timestamp: 0x01ffffff, payload: hex('dd') }, //  needs the extended timestamp byte
  ];
  const body = buildAggregate(tags);
  assert.equal(body.length, tags.reduce((n, t) => n + 15 + t.payload.length, 0));
  // The first tag's own bytes: video, size 2, ts 100, ext 0, stream 0, body, back pointer 13.
  assert.equal(body.subarray(0, 17).toString('hex'), hex('09 000002 000064 00 000000', 'aabb', '0000000d').toString('hex'));
  const got: [number, number, string][] = [];
  // The message carries the first tag's timestamp, as sendAggregate sends it.
  splitAggregate({ ...H, timestamp: 100 }, body, (sub, b) => got.push([sub.type, sub.timestamp, Buffer.from(b).toString('hex')]));
  assert.deepEqual(got, tags.map((t) => [t.type, t.timestamp, Buffer.from(t.payload).toString('hex')]));
});

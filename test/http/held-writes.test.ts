import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeldWrites } from '../../src/http/held-writes.js';

test('pieces go one by one until backpressure, then the rest of the batch goes in one send, byte for byte', () => {
  const sent: Buffer[] = [];
  let accept = 2;
  const w = new HeldWrites((b) => {
    sent.push(Buffer.from(b));
    return --accept > 0;
  });
  const scratch = Buffer.alloc(3);
  const pieces: Buffer[] = [];
  for (let i = 0; i < 6; i++) {
    // The caller reuses its scratch buffer for every other piece, as the FLV rebaser does.
    const b = i % 2 === 0 ? scratch.fill(i) : Buffer.from([i, i, i, i, i]);
    pieces.push(Buffer.from(b));
    w.piece(b);
  }
  assert.equal(sent.length, 2, 'nothing more is sent once backpressure is reported');
  w.end();
  assert.equal(sent.length, 3, 'the held rest goes in one send');
  assert.deepEqual(Buffer.concat(sent), Buffer.concat(pieces), 'every byte, in order, scratch pieces copied when held');
  // The next batch starts writing piece by piece again.
  w.piece(Buffer.from([9]));
  assert.equal(sent.length, 4);
  w.end();
  assert.equal(sent.length, 4, 'nothing held, nothing more sent');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ChunkedBody } from '../../loadtest/chunked-body.js';

/** `data` framed as chunks of the given sizes (the rest in one), with an extension on some, and the last chunk. */
function frame(data: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (let k = 0; at < data.length; k++) {
    const n = Math.min(sizes[k % sizes.length]!, data.length - at);
    const ext = k % 3 === 1 ? ';name=value' : '';
    parts.push(Buffer.from(`${(k % 2 ? n.toString(16).toUpperCase() : n.toString(16))}${ext}\r\n`), data.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

test('a chunked body split at every kind of boundary decodes to its bytes, and the last chunk ends it', () => {
  const data = randomBytes(50_000);
  const wire = frame(data, [11, 1, 4096, 300, 17_000]);
  for (const cut of [1, 2, 3, 7, 64, 1500, 65_536]) {
    const body = new ChunkedBody();
    const got: Buffer[] = [];
    for (let at = 0; at < wire.length; at += cut) got.push(Buffer.from(body.push(Buffer.from(wire.subarray(at, at + cut)))));
    assert.ok(Buffer.concat(got).equals(data), `reads of ${cut} bytes`);
    assert.equal(body.done, true, `reads of ${cut} bytes: the last chunk was seen`);
  }
});

test('a malformed chunked body is an error, not bytes', () => {
  const bad = ['zz\r\nab\r\n', '2\r\nabXY', '\r\n', `${'1'.repeat(13)}\r\n`, `1;${'x'.repeat(300)}\r\n`];
  for (const b of bad) assert.throws(() => new ChunkedBody().push(Buffer.from(b)), /chunked body/, JSON.stringify(b.slice(0, 20)));
  assert.throws(() => new ChunkedBody().push(Buffer.from(`1;${'x'.repeat(300)}\r\n`)), /too long/, 'a long extension is the size-line bound, not a digit error');
});

/**
 * The RTMP player transport's direct writes, on a real TCP pair: batches go
 * straight to the fd until the kernel's buffer fills (the reader is paused),
 * the rest queues in the socket, and what arrives is every byte in order,
 * with the socket's own writes (control messages) interleaved where they
 * were made, and the batch handed over is left as it was. The byte count splits between directBytes and bytesWritten.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { SocketTransport } from '../../src/rtmp/socket-transport.js';

async function pair(): Promise<{ a: net.Socket; b: net.Socket; close: () => void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const accepted = once(server, 'connection');
  const a = net.connect(port, '127.0.0.1');
  await once(a, 'connect');
  const [b] = (await accepted) as [net.Socket];
  return { a: b, b: a, close: () => (a.destroy(), b.destroy(), server.close()) };
}

for (const direct of [true, false]) {
  test(`direct=${direct}: every byte arrives in order past a full kernel buffer`, async () => {
    const { a, b, close } = await pair();
    try {
      const t = new SocketTransport(a, direct);
      b.pause();
      const sent: Buffer[] = [];
      let queuedOnce = false;
      // ~8 MB in batches of odd sizes, a socket.write between batches: far past loopback's buffers.
      for (let i = 0; i < 400; i++) {
        const batch = [randomBytes(7000 + i), randomBytes(13000), randomBytes(1 + (i % 5))];
        sent.push(...batch);
        const given = batch.slice();
        t.write(batch);
        // A batch may be shared by every player at one cursor: a partial write must leave it as it was.
        assert.ok(batch.length === given.length && batch.every((b, j) => b === given[j] && b.length === given[j]!.length), 'the batch is untouched');
        if (t.writableLength > 0) queuedOnce = true;
        const ctl = randomBytes(12);
        sent.push(ctl);
        a.write(ctl);
      }
      assert.ok(queuedOnce, 'the kernel buffer filled, so the fallback path ran');
      const expected = Buffer.concat(sent);
      const got: Buffer[] = [];
      let n = 0;
      const done = new Promise<void>((resolve) => {
        b.on('data', (d: Buffer) => {
          got.push(d);
          n += d.length;
          if (n >= expected.length) resolve();
        });
      });
      b.resume();
      await done;
      assert.equal(Buffer.compare(Buffer.concat(got), expected), 0);
      if (direct) assert.ok(t.directBytes > 0, 'some batches went straight to the fd');
      else assert.equal(t.directBytes, 0);
      assert.equal(t.directBytes + a.bytesWritten, expected.length);
    } finally {
      close();
    }
  });
}

test('a destroyed socket takes nothing, and a reset peer surfaces as the socket error', async () => {
  const { a, b, close } = await pair();
  try {
    const t = new SocketTransport(a, true);
    const errored = once(a, 'error').catch(() => undefined);
    b.resetAndDestroy();
    await once(a, 'end').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 50 && !a.destroyed; i++) {
      t.write([randomBytes(64 * 1024)]);
      await new Promise((r) => setImmediate(r));
    }
    await errored;
    assert.ok(a.destroyed, 'the socket saw the reset through its own write');
    t.write([Buffer.from('x')]);
  } finally {
    close();
  }
});

test('a TLS socket is never written past (its fd carries ciphertext)', async () => {
  const { a, close } = await pair();
  try {
    Object.defineProperty(a, 'encrypted', { value: true });
    const t = new SocketTransport(a, true);
    t.write([Buffer.from('hello')]);
    assert.equal(t.directBytes, 0);
  } finally {
    close();
  }
});

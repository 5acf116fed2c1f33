/**
 * Every plain-TCP RtmpClient on a thread reads into one shared buffer
 * (client/connection.ts). That is only safe while nothing keeps a view of
 * a read past the next one. Here two players read through a proxy that
 * hands the server's bytes on in small, uneven slices, one per
 * connection per turn, so the two clients read in the same poll and each
 * read overwrites the other client's last one. Handshake packets, chunk headers and message bodies
 * are all split across reads; both players must still get every tag,
 * byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import { withServer } from '../helpers/server-harness.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import { assertSameTags } from '../helpers/tag-asserts.js';

/** Slice sizes the proxy cycles through: a single byte, odd sizes, a chunk header's worth, a body part. */
const SLICES = [1, 7, 13, 2, 300, 5, 1537, 11, 64, 3, 900, 17];

/** A proxy to `port` whose server-to-client bytes go out one slice per connection per turn. */
async function dribblingProxy(port: number): Promise<{ port: number; close(): void }> {
  const queues: { out: net.Socket; pending: Buffer[]; slice: number }[] = [];
  let running = false;
  const drainAll = async (): Promise<void> => {
    if (running) return;
    running = true;
    while (queues.some((q) => q.pending.length > 0)) {
      for (const q of queues) {
        const head = q.pending[0];
        if (!head) continue;
        const n = SLICES[q.slice++ % SLICES.length]!;
        if (!q.out.destroyed) q.out.write(head.subarray(0, n));
        if (n >= head.length) q.pending.shift();
        else q.pending[0] = head.subarray(n);
      }
      // One slice per connection, then a turn: the clients read them in the same poll, one after the other.
      await turn();
    }
    running = false;
  };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    down.setNoDelay(true);
    up.setNoDelay(true);
    sockets.add(down).add(up);
    const q = { out: down, pending: [] as Buffer[], slice: queues.length * 5 };
    queues.push(q);
    down.on('data', (b) => up.write(b));
    up.on('data', (b) => {
      q.pending.push(b);
      void drainAll();
    });
    const end = (): void => {
      up.destroy();
      down.destroy();
    };
    up.on('close', end).on('error', end);
    down.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

test('two clients whose reads interleave in small slices each get every tag byte for byte', { timeout: 20000 }, async () => {
  await withServer({}, async (h) => {
    const pub = await h.client();
    await pub.publish('shared');
    const src = h.source(pub, { gop: 5, videoBytes: 9000, audioBytes: 200 });
    src.headers();
    await pub.ping();

    const proxy = await dribblingProxy(h.srv.rtmpPort);
    const players: { c: RtmpClient; rec: Recorder }[] = [];
    try {
      const url = `rtmp://127.0.0.1:${proxy.port}/live`;
      // Both connect at once: their handshakes and connect replies interleave too.
      const clients = await Promise.all([RtmpClient.connect(url), RtmpClient.connect(url)]);
      for (const c of clients) players.push({ c, rec: new Recorder(c) });
      await Promise.all(clients.map((c) => c.play('shared')));
      src.send(20);
      for (const { rec } of players) await rec.frame(src.nextN - 1, 10000);

      for (const [i, { rec }] of players.entries()) {
        const media = rec.media();
        assert.deepEqual(media.slice(0, 3).map((e) => e.kind), ['meta', 'vseq', 'aseq'], `player ${i}: headers first`);
        assertSameTags(media.slice(3), src.frames, `player ${i}`);
      }
    } finally {
      for (const { c } of players) c.destroy();
      proxy.close();
    }
  });
});

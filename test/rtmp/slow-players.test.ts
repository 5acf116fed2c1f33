/**
 * Players that cannot keep up, through real sockets: one that stops
 * reading is evicted after player.stallTimeoutMs with bounded server-side
 * buffering, one that reads too slowly is dropped forward to a keyframe —
 * while a normal player on the same stream gets every frame.
 *
 * Synthetic publishers put a counter in every frame
 * (test/helpers/synthetic-media.ts), so gaps and jumps show exactly. One
 * server per case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { streamOf, withServer } from '../helpers/server-harness.js';
import { sleep, waitFor } from '../helpers/net.js';

test('stalled player: disconnected after player.stallTimeoutMs with bounded server-side buffering; a normal player on the stream gets every frame', { timeout: 25000 }, async () => {
  const HW = 64 * 1024;
  const STALL = 1500;
  const FRAME = 40000; // 50 fps x 40 kB = 2 MB/s
  await withServer(
    { player: { writeHighWaterBytes: HW, queueMaxBytes: 1024 * 1024, queueMaxMs: 1000, stallTimeoutMs: STALL } },
    async (h) => {
      const { pub, src } = await h.publisher('stall', { gop: 25, frameMs: 20, videoBytes: FRAME, audioBytes: 200 });
      const { rec: recN } = await h.player('stall');
      const { player: stalled, rec: recS } = await h.player('stall');
      const session = h.sessionOf(stalled);
      assert.ok(session, 'server session of the stalled player');

      src.start();
      await waitFor(() => recS.video().length >= 5, 3000, 'stalled player receiving before it stalls');
      stalled.pauseReading();
      const tPause = Date.now();
      // Kernel socket buffers (several MB on loopback) fill first; then the
      // server's own queue reaches the high-water mark and the stall clock runs.
      let tFull = 0;
      let tEvict = 0;
      let maxWritable = 0;
      while (Date.now() - tPause < 12000) {
        if (!h.srv.ctx.sessions.has(session.id)) {
          tEvict = Date.now();
          break;
        }
        const wl = session.socket.writableLength;
        maxWritable = Math.max(maxWritable, wl);
        if (wl < HW) tFull = 0;
        else if (tFull === 0) tFull = Date.now();
        await sleep(20);
      }
      src.stop();
      assert.ok(tEvict > 0, `stalled player still connected ${Date.now() - tPause} ms after it stopped reading`);
      assert.ok(tFull > 0, 'the server queue reached the high-water mark before the eviction');
      const stalledFor = tEvict - tFull;
      assert.ok(stalledFor >= STALL - 200 && stalledFor <= STALL + 1200, `evicted ${stalledFor} ms after its queue filled (stallTimeoutMs ${STALL})`);
      assert.ok(tEvict - tPause <= STALL + 8000, `evicted ${tEvict - tPause} ms after it stopped reading`);
      // At most one batch past the mark: the high-water mark plus one tag (and its chunk headers).
      assert.ok(maxWritable <= HW + FRAME + 4096, `server-side queue peaked at ${maxWritable} bytes`);
      assert.equal(h.srv.ctx.counters.playersEvicted, 1);
      assert.equal(h.srv.ctx.counters.sessionErrors.ERR_SLOW_CONSUMER, 1);

      await pub.ping();
      await recN.frame(src.nextN - 1, 5000);
      assert.equal(recN.closed, false);
      const video = recN.video().map((e) => e.n);
      const audio = recN.audio().map((e) => e.n);
      assert.equal(video[0], 0);
      assert.deepEqual(video, Array.from({ length: src.nextN }, (_, i) => i), 'normal player: every video frame in order');
      assert.deepEqual(audio, Array.from({ length: src.nextN }, (_, i) => i), 'normal player: every audio frame in order');

      stalled.resumeReading();
      await waitFor(() => recS.closed, 5000, 'stalled client sees the disconnect once it reads again');
    },
  );
});

test('lagging player (reads, but slower than the stream): dropped forward to a keyframe, never mid-GOP, not disconnected', { timeout: 25000 }, async () => {
  const GOP = 25;
  const RATE = 1_500_000; // the player reads 1.5 MB/s of a 4 MB/s stream
  await withServer(
    // A long stall timeout: this player is slow, not stalled. A ring too big to lap within the case, so
    // any drop is the queue policy's (queueMaxBytes/queueMaxMs), not a resync after being lapped.
    {
      player: { writeHighWaterBytes: 64 * 1024, queueMaxBytes: 1024 * 1024, queueMaxMs: 1000, stallTimeoutMs: 6000 },
      media: { ringBytes: 64 * 1024 * 1024 },
    },
    async (h) => {
      const { pub, src } = await h.publisher('lag', { gop: GOP, frameMs: 20, videoBytes: 80000, audioBytes: 200 });
      const { player: lag, rec } = await h.player('lag');

      // Throttle: stop reading as soon as we are ahead of RATE, resume when behind.
      const t0 = Date.now();
      const base = lag.stats.bytesIn;
      let throttled = true;
      const ahead = (): boolean => lag.stats.bytesIn - base > ((Date.now() - t0) * RATE) / 1000;
      // Checked per message: the client reads its socket into a shared buffer, so the socket emits no 'data'.
      lag.on('media', () => {
        if (throttled && ahead()) lag.pauseReading();
      });
      const tick = setInterval(() => {
        if (!throttled || !ahead()) lag.resumeReading();
      }, 10);
      try {
        src.start();
        const stream = streamOf(h.srv, 'lag')!;
        await waitFor(() => stream.counters.tagsDropped > 0, 12000, 'the server drops the lagging player forward');
        throttled = false;
        lag.resumeReading();
        await sleep(300);
        src.stop();
        await pub.ping();
        await rec.frame(src.nextN - 1, 8000);
      } finally {
        clearInterval(tick);
      }

      assert.equal(rec.closed, false, 'lagging player not disconnected');
      assert.equal(streamOf(h.srv, 'lag')!.counters.resyncs, 0, 'dropped by the queue policy, not lapped by the ring');
      assert.equal(h.srv.ctx.counters.playersEvicted, 0);
      const video = rec.video();
      let jumps = 0;
      for (let i = 1; i < video.length; i++) {
        const prev = video[i - 1]!;
        const cur = video[i]!;
        assert.ok(cur.n > prev.n, `video out of order: ${prev.n} then ${cur.n}`);
        if (cur.n !== prev.n + 1) {
          jumps++;
          assert.equal(cur.kind, 'key', `jump ${prev.n} -> ${cur.n} lands on a ${cur.kind} frame`);
          assert.equal(cur.n % GOP, 0, `jump ${prev.n} -> ${cur.n} lands mid-GOP`);
        }
      }
      assert.ok(jumps > 0, 'the player skipped forward at least once');
      const audio = rec.audio().map((e) => e.n);
      audio.forEach((n, i) => i === 0 || assert.ok(n > audio[i - 1]!, `audio out of order: ${audio[i - 1]} then ${n}`));
    },
  );
});

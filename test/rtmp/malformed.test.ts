/**
 * Bad input ends that one session and nothing else: while an ffmpeg
 * publisher and an ffmpeg player run on one stream, each malformed case
 * opens its own raw connection, and the server must close it promptly (or,
 * for the timeout cases, around the configured timeout — not before, not
 * long after) while the player's run stays contiguous and keeps growing.
 *
 * Limits are set low so the cases are cheap, and the timeouts are set above
 * CLOSE_PROMPT_MS so a case cannot pass by hitting a timeout instead of the
 * check it aims at. Each case also names the error code the session must
 * end with (counted in the server's sessionErrors), so a case cannot pass by
 * tripping some other check either.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { RunningServer } from '../../src/process/single.js';
import type { ErrorCode } from '../../src/core/errors.js';
import { framemd5, makeClip, play, publish, type Clip, type FfmpegProcess, type Player } from '../helpers/ffmpeg.js';
import { assertContiguousRun, assertMonotonic, describeRun } from '../helpers/packet-run.js';
import {
  RawRtmpClient,
  amf0,
  basicHeader,
  fmt0Chunk,
  nestedAmf0Object,
  setChunkSize,
  sleep,
  waitFor,
  withTimeout,
} from '../helpers/net.js';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { readClip } from '../helpers/clip-tags.js';

const FPS = 25;
const GOP = 25;
const HANDSHAKE_TIMEOUT_MS = 2500;
const IDLE_TIMEOUT_MS = 3000;
/** Above the idle timeout, so the slowloris case meets the idle bound first. */
const START_TIMEOUT_MS = 4500;
const MAX_INCOMING_CHUNK_SIZE = 65536;
const MAX_MESSAGE_SIZE = 256 * 1024;
/** Below the clip's keyframes, so the ffmpeg publisher's media proves a publishing session is held to maxMessageSize only. */
const MAX_COMMAND_BYTES = 2048;
const MAX_CHUNK_STREAMS = 16;
/** Receive-rate floor: the trickling publisher below sends ~85 B/s of its message plus small whole control messages. */
const MIN_BYTES_PER_SECOND = 1024;
const RATE_WINDOW_MS = 2000;
const AMF_MAX_DEPTH = 8;
/** A bad connection must be closed this soon after the bad bytes are sent. */
const CLOSE_PROMPT_MS = 1500;
/** A timed-out connection must be closed no earlier than timeout - EARLY and no later than timeout + LATE. */
const EARLY_MS = 500;
const LATE_MS = 2000;

/** RTMP message type ids used here (RTMP spec 5.4, 7.1). */
const TYPE_VIDEO = 9;
const TYPE_COMMAND_AMF0 = 20;

let srv: RunningServer;
let clip: Clip;
let pub: FfmpegProcess;
let player: Player;
const STREAM = 'target';

before(async () => {
  clip = await makeClip({ seconds: 20, fps: FPS, gop: GOP, width: 320, height: 240 });
  srv = await startTestServer({
    rtmp: {
      handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
      idleTimeoutMs: IDLE_TIMEOUT_MS,
      startTimeoutMs: START_TIMEOUT_MS,
      maxIncomingChunkSize: MAX_INCOMING_CHUNK_SIZE,
      maxMessageSize: MAX_MESSAGE_SIZE,
      maxCommandBytes: MAX_COMMAND_BYTES,
      maxChunkStreams: MAX_CHUNK_STREAMS,
      minBytesPerSecond: MIN_BYTES_PER_SECOND,
      rateWindowMs: RATE_WINDOW_MS,
    },
    amf: { maxDepth: AMF_MAX_DEPTH },
  });
  const biggest = Math.max(...readClip(clip).video.map((t) => t.data.length));
  assert.ok(biggest > MAX_COMMAND_BYTES, `the clip has video frames above rtmp.maxCommandBytes (largest ${biggest})`);
  const url = `rtmp://127.0.0.1:${srv.rtmpPort}/live/${STREAM}`;
  pub = publish(url, clip);
  await sleep(1000);
  player = play(url, { seconds: 60, killAfterMs: 60_000 });
  await waitFor(() => player.packets.length > 0 || !player.running, 5000, 'player to receive its first packet');
  assert.ok(player.running, `player exited early:\n${player.stderr().slice(-2000)}`);
});

after(async () => {
  await Promise.all([player?.kill(1000), pub?.kill(1000)]);
  await closeServer(srv);
});

/** The ffmpeg pair must still be running and the player must still be receiving. */
async function assertStreamUnharmed(packetsBefore: number): Promise<void> {
  await waitFor(
    () => player.packets.length >= packetsBefore + 10 || !player.running,
    3000,
    `player to receive 10 more packets (had ${packetsBefore}, now ${player.packets.length})`,
  );
  const since = (p: FfmpegProcess): string => `${Date.now() - p.t0} ms after it started`;
  assert.ok(player.running, `player exited ${since(player)} (rtmp.idleTimeoutMs is ${IDLE_TIMEOUT_MS}):\n${player.stderr().slice(-1500)}`);
  assert.ok(pub.running, `publisher exited ${since(pub)}:\n${pub.stderr().slice(-1500)}`);
}

/** Sessions the server has ended with `code` so far (its metrics counter). */
function errorCount(code: ErrorCode): number {
  return srv.ctx.counters.sessionErrors[code] ?? 0;
}

/** Runs `body`, then requires one more session ended with `code`. */
async function expectSessionError<T>(code: ErrorCode, body: () => Promise<T>): Promise<T> {
  const before = errorCount(code);
  const out = await body();
  await waitFor(
    () => errorCount(code) > before,
    1000,
    `a session ended with ${code} (sessionErrors: ${JSON.stringify(srv.ctx.counters.sessionErrors)})`,
  );
  return out;
}

async function rawClient(): Promise<RawRtmpClient> {
  return RawRtmpClient.connect(srv.rtmpPort);
}

/**
 * A case that sends bad bytes and expects the connection closed within
 * CLOSE_PROMPT_MS of sending them. `setup` brings the connection to the
 * state the bad bytes need (e.g. handshake + connect) and returns them.
 */
function promptCloseCase(name: string, code: ErrorCode, setup: (c: RawRtmpClient) => Promise<Buffer>): void {
  test(name, async (t) => {
    const packetsBefore = player.packets.length;
    const c = await rawClient();
    try {
      const bad = await setup(c);
      assert.ok(!c.isClosed, 'closed before the bad bytes were sent');
      await expectSessionError(code, async () => {
        const sentAt = Date.now() - c.t0;
        c.write(bad);
        const closed = await c.expectClosedWithin(CLOSE_PROMPT_MS, name);
        t.diagnostic(`closed (${closed.how}) ${closed.atMs - sentAt} ms after the bad bytes`);
      });
    } finally {
      c.destroy();
    }
    await assertStreamUnharmed(packetsBefore);
  });
}

const connected = async (c: RawRtmpClient): Promise<void> => c.handshakeAndConnect(srv.rtmpPort, 'live');

// --- control ----------------------------------------------------------------

test('control: a well-formed handshake + connect is answered and kept open', async () => {
  const c = await rawClient();
  try {
    await connected(c);
    await sleep(300);
    assert.ok(!c.isClosed, 'server closed a well-formed connect');
  } finally {
    c.destroy();
  }
});

// --- handshake ----------------------------------------------------------------

promptCloseCase('garbage handshake: C0 = 0x42 + random C1', 'ERR_HANDSHAKE', async () =>
  Buffer.concat([Buffer.from([0x42]), randomBytes(1536)]),
);

// --- chunk layer --------------------------------------------------------------

promptCloseCase('fmt-1 chunk on a never-seen chunk stream', 'ERR_CHUNK', async (c) => {
  await connected(c);
  // fmt 1, csid 10 | ts delta u24 | length u24 = 8 | type 20 | payload
  const mh = Buffer.from([0, 0, 0, 0, 0, 8, TYPE_COMMAND_AMF0]);
  return Buffer.concat([basicHeader(1, 10), mh, Buffer.alloc(8)]);
});

promptCloseCase('fmt-2 chunk on a never-seen chunk stream', 'ERR_CHUNK', async (c) => {
  await connected(c);
  // fmt 2, csid 11 | ts delta u24 | payload: no length or type to go by
  return Buffer.concat([basicHeader(2, 11), Buffer.from([0, 0, 40]), Buffer.alloc(16)]);
});

promptCloseCase('fmt-3 chunk on a never-seen chunk stream', 'ERR_CHUNK', async (c) => {
  await connected(c);
  return Buffer.concat([basicHeader(3, 12), Buffer.alloc(16)]);
});

promptCloseCase(`more than rtmp.maxChunkStreams (${MAX_CHUNK_STREAMS}) chunk streams with partial messages`, 'ERR_LIMIT', async (c) => {
  await connected(c);
  const parts: Buffer[] = [];
  // 2-byte basic headers (csid 64..319), then the largest 3-byte csid: each opens a
  // 300-byte message and sends its first whole chunk (128 bytes at the default chunk
  // size), so every chunk stream holds a partial message.
  const partial = (csid: number): Buffer =>
    fmt0Chunk({ csid, type: TYPE_COMMAND_AMF0, length: 300, payload: Buffer.alloc(128) });
  for (let i = 0; i < 3 * MAX_CHUNK_STREAMS; i++) parts.push(partial(64 + i));
  parts.push(partial(65599));
  return Buffer.concat(parts);
});

promptCloseCase('Set Chunk Size 0', 'ERR_CHUNK_SIZE', async (c) => {
  await connected(c);
  return setChunkSize(0);
});

promptCloseCase(`Set Chunk Size above rtmp.maxIncomingChunkSize (${MAX_INCOMING_CHUNK_SIZE + 1})`, 'ERR_CHUNK_SIZE', async (c) => {
  await connected(c);
  return setChunkSize(MAX_INCOMING_CHUNK_SIZE + 1);
});

promptCloseCase(`message length above rtmp.maxMessageSize (${MAX_MESSAGE_SIZE + 1}), header only`, 'ERR_MESSAGE_TOO_LARGE', async (c) => {
  await connected(c);
  // The header announces the length; the body never comes. The check must not wait for it.
  return fmt0Chunk({ csid: 6, type: TYPE_VIDEO, streamId: 1, length: MAX_MESSAGE_SIZE + 1, payload: Buffer.alloc(128) });
});

promptCloseCase(`command above rtmp.maxCommandBytes (${MAX_COMMAND_BYTES + 1}), header only`, 'ERR_MESSAGE_TOO_LARGE', async (c) => {
  await connected(c);
  // Far below maxMessageSize: a command is held to the small limit, checked at its header.
  return fmt0Chunk({ csid: 3, type: TYPE_COMMAND_AMF0, length: MAX_COMMAND_BYTES + 1, payload: Buffer.alloc(128) });
});

promptCloseCase(`video above rtmp.maxCommandBytes from a session that only connected, header only`, 'ERR_MESSAGE_TOO_LARGE', async (c) => {
  await connected(c);
  // The 16 MB trickle of the issue, scaled: media before publish has not earned the media limit.
  return fmt0Chunk({ csid: 6, type: TYPE_VIDEO, streamId: 1, length: MAX_COMMAND_BYTES + 1, payload: Buffer.alloc(128) });
});

// --- AMF / commands -------------------------------------------------------------

promptCloseCase('truncated AMF: connect whose string length runs past the message end', 'ERR_AMF', async (c) => {
  await c.handshake();
  // 02 | 00 20 (32 bytes) | "connect" (7): the string claims 25 bytes past the 10-byte message.
  const payload = Buffer.concat([Buffer.from([0x02, 0x00, 0x20]), Buffer.from('connect')]);
  return fmt0Chunk({ csid: 3, type: TYPE_COMMAND_AMF0, payload });
});

promptCloseCase(`AMF nested deeper than amf.maxDepth (${AMF_MAX_DEPTH} + 4)`, 'ERR_AMF_DEPTH', async (c) => {
  await c.handshake();
  // connect(1, {a:{a:{...}}}) — well-formed except for its depth.
  const payload = Buffer.concat([amf0('connect', 1), nestedAmf0Object(AMF_MAX_DEPTH + 4)]);
  return fmt0Chunk({ csid: 3, type: TYPE_COMMAND_AMF0, payload });
});

promptCloseCase('unknown message type 99', 'ERR_PROTOCOL', async (c) => {
  await connected(c);
  return fmt0Chunk({ csid: 3, type: 99, payload: Buffer.from('not a real message') });
});

// --- timeouts ---------------------------------------------------------------------

/** Writes one byte of `bytes` every `everyMs` until the connection closes or the bytes run out. */
function trickle(c: RawRtmpClient, bytes: Buffer, everyMs: number): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (c.isClosed || i >= bytes.length) return clearInterval(timer);
    c.write(bytes.subarray(i, i + 1));
    i++;
  }, everyMs);
  return () => clearInterval(timer);
}

test(`slowloris after the handshake: closed around rtmp.idleTimeoutMs (${IDLE_TIMEOUT_MS} ms)`, async (t) => {
  const packetsBefore = player.packets.length;
  const c = await rawClient();
  try {
    await c.handshake();
    const from = Date.now() - c.t0;
    // One byte every 200 ms of a 1000-byte command: never a whole message.
    const stop = trickle(c, fmt0Chunk({ csid: 3, type: TYPE_COMMAND_AMF0, payload: Buffer.alloc(1000) }), 200);
    try {
      const closed = await expectSessionError('ERR_TIMEOUT', () =>
        c.expectClosedWithin(IDLE_TIMEOUT_MS + LATE_MS, 'slowloris'),
      );
      const after = closed.atMs - from;
      t.diagnostic(`closed (${closed.how}) ${after} ms after the handshake`);
      assert.ok(after >= IDLE_TIMEOUT_MS - EARLY_MS, `closed after ${after} ms, before the ${IDLE_TIMEOUT_MS} ms idle timeout`);
    } finally {
      stop();
    }
  } finally {
    c.destroy();
  }
  await assertStreamUnharmed(packetsBefore);
});

test(`publisher trickling a message, kept under the idle bound by whole control messages: closed by rtmp.minBytesPerSecond`, async (t) => {
  const packetsBefore = player.packets.length;
  const c = await rawClient();
  try {
    await c.handshakeAndConnect(srv.rtmpPort);
    c.write(fmt0Chunk({ csid: 3, type: TYPE_COMMAND_AMF0, payload: amf0('createStream', 2, null) }));
    c.write(fmt0Chunk({ csid: 4, type: TYPE_COMMAND_AMF0, streamId: 1, payload: amf0('publish', 3, null, 'trickle', 'live') }));
    await waitFor(() => [...srv.ctx.sessions.values()].some((s) => s.info().streamKey === 'live/trickle'), 2000, 'the raw publisher to publish');
    // A video message of 200 KB (under maxMessageSize): its first chunk now, one more 128-byte chunk every
    // 1.5 s, and an Acknowledgement (a whole message, so the idle timer is refreshed) every 300 ms.
    const length = 200 * 1024;
    c.write(fmt0Chunk({ csid: 6, type: TYPE_VIDEO, streamId: 1, length, payload: Buffer.alloc(128, 0x17) }));
    const from = Date.now() - c.t0;
    const ack = (): void => c.write(Buffer.concat([basicHeader(0, 2), Buffer.from([0, 0, 0, 0, 0, 4, 3, 0, 0, 0, 0]), Buffer.alloc(4)]));
    const acks = setInterval(() => !c.isClosed && ack(), 300);
    const chunks = setInterval(() => !c.isClosed && c.write(Buffer.concat([basicHeader(3, 6), Buffer.alloc(128, 0x01)])), 1500);
    try {
      const closed = await expectSessionError('ERR_TIMEOUT', () =>
        c.expectClosedWithin(2 * RATE_WINDOW_MS + LATE_MS, 'rate floor'),
      );
      const after = closed.atMs - from;
      t.diagnostic(`closed (${closed.how}) ${after} ms after the message began`);
      assert.ok(after >= RATE_WINDOW_MS - EARLY_MS, `closed after ${after} ms, before one ${RATE_WINDOW_MS} ms window`);
      assert.ok(after < IDLE_TIMEOUT_MS + START_TIMEOUT_MS, 'closed by the floor, not by another timer');
    } finally {
      clearInterval(acks);
      clearInterval(chunks);
    }
  } finally {
    c.destroy();
  }
  await assertStreamUnharmed(packetsBefore);
});

test(`connected, busy with commands, never publishes or plays: closed around rtmp.startTimeoutMs (${START_TIMEOUT_MS} ms)`, async (t) => {
  const packetsBefore = player.packets.length;
  const c = await rawClient();
  try {
    const from = Date.now() - c.t0;
    await c.handshakeAndConnect(srv.rtmpPort);
    // Then a whole (unknown, answered with _error) command every 300 ms: never idle, never started.
    let n = 2;
    const timer = setInterval(() => !c.isClosed && c.write(fmt0Chunk({ csid: 3, type: TYPE_COMMAND_AMF0, payload: amf0('getBusy', n++, null) })), 300);
    try {
      const closed = await expectSessionError('ERR_TIMEOUT', () => c.expectClosedWithin(START_TIMEOUT_MS + LATE_MS, 'start timeout'));
      const after = closed.atMs - from;
      t.diagnostic(`closed (${closed.how}) ${after} ms after the handshake`);
      assert.ok(after >= START_TIMEOUT_MS - EARLY_MS, `closed after ${after} ms, before the ${START_TIMEOUT_MS} ms start timeout`);
    } finally {
      clearInterval(timer);
    }
  } finally {
    c.destroy();
  }
  await assertStreamUnharmed(packetsBefore);
});

test(`handshake that never completes: closed around rtmp.handshakeTimeoutMs (${HANDSHAKE_TIMEOUT_MS} ms)`, async (t) => {
  const packetsBefore = player.packets.length;
  const c = await rawClient();
  try {
    // C0 + the first 100 bytes of C1, then the rest of C1 one byte every 200 ms.
    const c0c1 = Buffer.concat([Buffer.from([3]), Buffer.alloc(8), randomBytes(1528)]);
    c.write(c0c1.subarray(0, 101));
    const stop = trickle(c, c0c1.subarray(101), 200);
    try {
      const closed = await expectSessionError('ERR_TIMEOUT', () =>
        c.expectClosedWithin(HANDSHAKE_TIMEOUT_MS + LATE_MS, 'handshake timeout'),
      );
      t.diagnostic(`closed (${closed.how}) ${closed.atMs} ms after connecting`);
      assert.ok(
        closed.atMs >= HANDSHAKE_TIMEOUT_MS - EARLY_MS,
        `closed after ${closed.atMs} ms, before the ${HANDSHAKE_TIMEOUT_MS} ms handshake timeout`,
      );
    } finally {
      stop();
    }
  } finally {
    c.destroy();
  }
  await assertStreamUnharmed(packetsBefore);
});

// --- afterwards ---------------------------------------------------------------------

test('afterwards: a fresh connection is served and the player run stayed contiguous', async (t) => {
  const c = await rawClient();
  try {
    await connected(c);
    assert.ok(!c.isClosed);
  } finally {
    c.destroy();
  }
  const playedMs = Date.now() - player.t0;
  await player.kill(2000);
  const r = await withTimeout(player.done, 5000, 'player to finish');
  const run = assertContiguousRun(r, await framemd5(clip.file), { gop: GOP });
  assertMonotonic(r);
  t.diagnostic(`player over ${playedMs} ms: ${describeRun(run)}`);
  // It joined ~1 s in and got the GOP cache; allow for startup and the kill.
  assert.ok(run.video.length >= ((playedMs - 1500) * FPS) / 1000, `${run.video.length} video packets in ${playedMs} ms`);
  assert.ok(pub.running, 'publisher still running');
});

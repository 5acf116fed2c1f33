import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { describeError } from '../../src/core/errors.js';
import { CLIENT_VERSION, ClientHandshake, ServerHandshake } from '../../src/protocol/handshake.js';

/** The ffmpeg binary shipped inside the @ffmpeg-installer/linux-x64 npm package. */
const FFMPEG = path.join(
  path.dirname(createRequire(import.meta.url).resolve('@ffmpeg-installer/linux-x64/package.json')),
  'ffmpeg',
);

/** Bytes of ffmpeg's first chunk we look at: basic header + 11-byte message header + AMF0 "connect". */
const WANT_AFTER = 1 + 11 + 10;

interface Seen {
  handshake: ServerHandshake;
  /** Chunk-stream bytes that followed C2 (same read or later ones). */
  after: Buffer;
}

test('ffmpeg (as a player) completes the digest handshake with ServerHandshake', { timeout: 15_000 }, async () => {
  let finish!: (seen: Seen) => void;
  let fail!: (err: Error) => void;
  const result = new Promise<Seen>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });

  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const handshake = new ServerHandshake();
    const after: Buffer[] = [];
    let afterLength = 0;
    socket.on('data', (data) => {
      try {
        if (handshake.stage !== 'done') {
          const res = handshake.push(data);
          for (const b of res.send) socket.write(b);
          if (!res.done) return;
          data = Buffer.from(res.rest);
        }
        after.push(data);
        afterLength += data.length;
        if (afterLength >= WANT_AFTER) finish({ handshake, after: Buffer.concat(after) });
      } catch (err) {
        fail(new Error(`server: ${describeError(err)}`));
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      if (handshake.stage !== 'done') fail(new Error(`ffmpeg closed during the handshake (stage ${handshake.stage})`));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;

  const ffmpeg = spawn(FFMPEG, ['-hide_banner', '-loglevel', 'debug', '-i', `rtmp://127.0.0.1:${port}/live/test`, '-f', 'null', '-'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  ffmpeg.stderr.setEncoding('utf8');
  ffmpeg.stderr.on('data', (s: string) => {
    log += s;
  });
  ffmpeg.on('error', (err) => fail(err));
  ffmpeg.on('exit', (code, signal) => fail(new Error(`ffmpeg exited early (${code ?? signal})`)));

  const timer = setTimeout(() => fail(new Error('timed out waiting for ffmpeg')), 8_000);
  try {
    const { handshake, after } = await result;

    // ffmpeg sends a digest C1 (version 9.0.124.2, digest block first) and signs C2.
    assert.equal(handshake.clientVersion, CLIENT_VERSION);
    assert.equal(handshake.complex, true);
    assert.equal(handshake.schema, 1);
    assert.equal(handshake.c2Valid, true, 'C2 signature (FP key + S1 digest) verifies');

    // ffmpeg accepted S1/S2 and went on to `connect`:
    assert.equal(after[0], 0x03, 'basic header: fmt 0, csid 3');
    assert.equal(after[7], 0x14, 'message type 20: AMF0 command');
    assert.deepEqual(after.subarray(12, 22), Buffer.from('\x02\x00\x07connect', 'latin1'));
    assert.doesNotMatch(log, /validating failed|Signature mismatch/);
  } catch (err) {
    // Show what ffmpeg said about the handshake when anything went wrong.
    const tail = log.split('\n').filter((l) => /rtmp|handshake|Signature|valid/i.test(l)).slice(-20).join('\n');
    throw new Error(`${(err as Error).message}\n--- ffmpeg log (rtmp lines) ---\n${tail}`, { cause: err });
  } finally {
    clearTimeout(timer);
    ffmpeg.removeAllListeners('exit');
    if (ffmpeg.exitCode === null && ffmpeg.signalCode === null) {
      ffmpeg.kill('SIGKILL');
      await once(ffmpeg, 'exit');
    }
    for (const s of sockets) s.destroy();
    server.close();
  }
});

/** Our client against ffmpeg's own RTMP server (`-listen 1`), which answers with a plain handshake. */
test('ClientHandshake completes the handshake with ffmpeg -listen', { timeout: 15_000 }, async () => {
  // A free port for ffmpeg to listen on (ffmpeg cannot report one it picked).
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((r) => probe.close(r));

  const ffmpeg = spawn(FFMPEG, ['-hide_banner', '-loglevel', 'debug', '-listen', '1', '-i', `rtmp://127.0.0.1:${port}/live/test`, '-f', 'null', '-'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  ffmpeg.stderr.setEncoding('utf8');
  ffmpeg.stderr.on('data', (s: string) => {
    log += s;
  });

  let socket: net.Socket | undefined;
  const deadline = Date.now() + 8_000;
  const timer = setTimeout(() => socket?.destroy(new Error('timed out waiting for ffmpeg')), 8_000);
  try {
    // ffmpeg needs a moment to listen: retry the connect until the deadline.
    while (!socket) {
      try {
        const s = net.connect(port, '127.0.0.1');
        await once(s, 'connect');
        socket = s;
      } catch (err) {
        if (Date.now() > deadline || ffmpeg.exitCode !== null) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    socket.setNoDelay(true);
    const sock = socket;
    const handshake = new ClientHandshake();
    sock.write(handshake.start());

    // connect('live'): basic header fmt 0 csid 3, message type 20 on stream 0, AMF0 body.
    const body = Buffer.concat([
      Buffer.from('\x02\x00\x07connect', 'latin1'), // string "connect"
      Buffer.from([0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]), // number 1 (transaction id)
      Buffer.from('\x03\x00\x03app\x02\x00\x04live\x00\x00\x09', 'latin1'), // { app: "live" }
    ]);
    const header = Buffer.from([0x03, 0, 0, 0, 0, 0, body.length, 0x14, 0, 0, 0, 0]);

    const reply = await new Promise<Buffer>((resolve, reject) => {
      const after: Buffer[] = [];
      sock.on('data', (data) => {
        try {
          if (handshake.stage !== 'done') {
            const res = handshake.push(data);
            for (const b of res.send) sock.write(b);
            if (!res.done) return;
            sock.write(Buffer.concat([header, body]));
            data = Buffer.from(res.rest);
          }
          after.push(data);
          const got = Buffer.concat(after);
          if (got.length >= 12) resolve(got);
        } catch (err) {
          reject(new Error(`client: ${describeError(err)}`));
        }
      });
      sock.on('error', reject);
      sock.on('close', () => reject(new Error(`ffmpeg closed the connection (handshake stage ${handshake.stage})`)));
    });

    assert.equal(handshake.complex, false, 'ffmpeg -listen answers with a plain handshake');
    assert.equal(handshake.serverVersion, 0);
    assert.equal(handshake.s2Valid, true, 'S2 echoes C1');
    // ffmpeg accepted C2 (it checks the echo of S1) and read our connect: its first reply
    // is Window Acknowledgement Size (type 5) on csid 2.
    assert.equal(reply[0], 0x02, 'basic header: fmt 0, csid 2');
    assert.equal(reply[7], 0x05, 'message type 5: Window Acknowledgement Size');
    assert.doesNotMatch(log, /Erroneous C2/);
  } catch (err) {
    const tail = log.split('\n').filter((l) => /rtmp|handshake|Erroneous/i.test(l)).slice(-20).join('\n');
    throw new Error(`${(err as Error).message}\n--- ffmpeg log (rtmp lines) ---\n${tail}`, { cause: err });
  } finally {
    clearTimeout(timer);
    socket?.destroy();
    if (ffmpeg.exitCode === null && ffmpeg.signalCode === null) {
      ffmpeg.kill('SIGKILL');
      await once(ffmpeg, 'exit');
    }
  }
});

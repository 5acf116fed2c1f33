/**
 * Self-tests of the interop harness, against ffmpeg alone (no sluice):
 * the clip really has its keyframes where the harness says, framemd5 parses,
 * assertContiguousRun accepts what an RTMP hop delivers and rejects tampered
 * lists, and the raw RTMP poking client handshakes with a real RTMP peer
 * (ffmpeg in `-listen 1` server mode).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { framemd5, makeClip, play, publish, type Player } from './ffmpeg.js';
import { packetsOf, parseFramemd5, type Framemd5, type Packet } from './framemd5.js';
import { assertContiguousRun, assertMonotonic } from './packet-run.js';
import { RawRtmpClient, freePort, waitForListen, withTimeout } from './net.js';

const GOP = 25;
const clipParams = { seconds: 3, fps: 25, gop: GOP, width: 320, height: 240 };

/** FLV video tags (not sequence headers) from the file: { key, cts } in order. FLV spec E.4.3.1. */
function flvVideoFrames(b: Buffer): { key: boolean; cts: number }[] {
  const out: { key: boolean; cts: number }[] = [];
  let o = b.readUInt32BE(5) + 4; // header size, then PreviousTagSize0
  while (o + 11 <= b.length) {
    const type = b[o]! & 0x1f;
    const size = b.readUIntBE(o + 1, 3);
    if (type === 9) {
      const frameType = b[o + 11]! >> 4; // 1 = key frame
      const avcPacketType = b[o + 12]!; // 0 = sequence header, 1 = NALU
      if (avcPacketType === 1) out.push({ key: frameType === 1, cts: b.readIntBE(o + 13, 3) });
    }
    o += 11 + size + 4;
  }
  return out;
}

function withPackets(f: Framemd5, packets: Packet[]): Framemd5 {
  return { streams: f.streams, packets };
}

/** The reference restricted to video packets [vFrom, vTo) and the audio packets in the same dts window. */
function slice(ref: Framemd5, vFrom: number, vTo: number): Framemd5 {
  const v = packetsOf(ref, 'video');
  const lo = v[vFrom]!.dts;
  const hi = v[vTo - 1]!.dts;
  const vi = ref.streams.find((s) => s.mediaType === 'video')!.index;
  const vSet = new Set(v.slice(vFrom, vTo));
  return withPackets(
    ref,
    ref.packets.filter((p) => (p.stream === vi ? vSet.has(p) : p.dts >= lo && p.dts <= hi)),
  );
}

test('makeClip: keyframes exactly at multiples of gop, B-frames present', async () => {
  const clip = await makeClip(clipParams);
  const frames = flvVideoFrames(await readFile(clip.file));
  assert.equal(frames.length, clipParams.seconds * clipParams.fps);
  frames.forEach((f, i) => assert.equal(f.key, i % GOP === 0, `video frame ${i} key=${f.key}`));
  assert.ok(frames.some((f) => f.cts !== 0), 'composition time offsets (B-frames) expected');
  // same parameters: same promise, no second encode
  assert.equal((await makeClip(clipParams)).file, clip.file);
});

test('framemd5 of the clip: video + audio streams, extradata, one line per packet', async () => {
  const clip = await makeClip(clipParams);
  const ref = await framemd5(clip.file);
  const v = ref.streams.find((s) => s.mediaType === 'video');
  const a = ref.streams.find((s) => s.mediaType === 'audio');
  assert.equal(v?.codecId, 'h264');
  assert.equal(a?.codecId, 'aac');
  assert.ok(v?.extradata && v.extradata.size > 0, 'AVC sequence header as #extradata');
  assert.ok(a?.extradata && a.extradata.size > 0, 'AAC AudioSpecificConfig as #extradata');
  assert.equal(packetsOf(ref, 'video').length, clipParams.seconds * clipParams.fps);
  assert.ok(packetsOf(ref, 'audio').length > clipParams.seconds * 40, 'about 43 AAC frames per second');
});

test('parseFramemd5: header lines and packet lines', () => {
  const f = parseFramemd5(
    [
      '#format: frame checksums',
      '#version: 2',
      '#hash: MD5',
      '#extradata 0,                              37, 41b19338d07e2b618579bb6ae0bde376',
      '#software: Lavf58.24.100',
      '#tb 0: 1/1000',
      '#media_type 0: audio',
      '#codec_id 0: aac',
      '#tb 1: 1/1000',
      '#media_type 1: video',
      '#codec_id 1: h264',
      '#stream#, dts,        pts, duration,     size, hash',
      '1,        -57,         23,        0,     3588, 7dda205e3c69a016bf67827030b10321',
      '0,          0,          0,       23,      191, f722b627fdf8a325fcab37529bc3c9e7',
      '',
    ].join('\n'),
  );
  assert.deepEqual(
    f.streams.map((s) => [s.index, s.mediaType, s.codecId]),
    [
      [0, 'audio', 'aac'],
      [1, 'video', 'h264'],
    ],
  );
  assert.deepEqual(f.streams[0]!.extradata, { size: 37, hash: '41b19338d07e2b618579bb6ae0bde376' });
  assert.deepEqual(f.packets[0], {
    stream: 1,
    dts: -57,
    pts: 23,
    duration: 0,
    size: 3588,
    hash: '7dda205e3c69a016bf67827030b10321',
  });
  assert.equal(packetsOf(f, 'video').length, 1);
});

test('assertContiguousRun on slices of the reference', async () => {
  const ref = await framemd5((await makeClip(clipParams)).file);
  const nv = packetsOf(ref, 'video').length;

  const whole = assertContiguousRun(ref, ref, { gop: GOP });
  assert.deepEqual(whole.video, { start: 0, length: nv });

  const late = assertContiguousRun(slice(ref, GOP, nv - 3), ref, { gop: GOP });
  assert.equal(late.video.start, GOP);
  assert.equal(late.video.length, nv - 3 - GOP);
  assert.ok(late.audio.start > 0);

  assert.throws(() => assertContiguousRun(slice(ref, GOP + 1, nv), ref, { gop: GOP }), /not a keyframe/);

  const s = slice(ref, 0, nv);
  const vi = ref.streams.find((x) => x.mediaType === 'video')!.index;
  const ai = ref.streams.find((x) => x.mediaType === 'audio')!.index;

  const nth = (stream: number, n: number): Packet => s.packets.filter((p) => p.stream === stream)[n]!;
  const droppedV = nth(vi, 30);
  assert.throws(
    () => assertContiguousRun(withPackets(ref, s.packets.filter((p) => p !== droppedV)), ref, { gop: GOP }),
    /video: not contiguous/,
  );
  const droppedA = nth(ai, 10);
  assert.throws(
    () => assertContiguousRun(withPackets(ref, s.packets.filter((p) => p !== droppedA)), ref, { gop: GOP }),
    /audio: not contiguous/,
  );
  const tampered = s.packets.map((p) => (p === droppedV ? { ...p, hash: '0'.repeat(32) } : p));
  assert.throws(() => assertContiguousRun(withPackets(ref, tampered), ref, { gop: GOP }), /video: not contiguous/);

  assert.throws(
    () => assertContiguousRun(withPackets(ref, s.packets.filter((p) => p.stream !== ai)), ref, { gop: GOP }),
    /audio: no packets/,
  );
  assert.throws(
    () => assertContiguousRun({ streams: ref.streams.filter((x) => x.index === vi), packets: [] }, ref, { gop: GOP }),
    /no audio stream/,
  );
  // a different sequence header
  const otherSh = { ...ref, streams: ref.streams.map((x) => (x.index === vi ? { ...x, extradata: { size: 1, hash: 'f'.repeat(32) } } : x)) };
  assert.throws(() => assertContiguousRun(otherSh, ref, { gop: GOP }), /video: sequence header/);
  // timestamps going back
  const back = { ...ref, packets: ref.packets.map((p) => (p === nth(vi, 20) ? { ...p, dts: 0 } : p)) };
  assert.throws(() => assertMonotonic(back), /video: dts goes from/);
  assert.throws(() => assertMonotonic({ ...ref, stderr: '[flv] Non-monotonous DTS in output stream 0:0' }), /non-monotonic/);
  // duplicated packet (a server replaying a tag)
  const dup = [...s.packets];
  dup.splice(dup.indexOf(droppedV), 0, droppedV);
  assert.throws(() => assertContiguousRun(withPackets(ref, dup), ref, { gop: GOP }), /video: not contiguous/);
});

test('through a real RTMP hop (ffmpeg -listen 1 as the server): contiguous from packet 0', async () => {
  const clip = await makeClip(clipParams);
  const ref = await framemd5(clip.file);
  const port = await freePort();
  const url = `rtmp://127.0.0.1:${port}/live/x`;
  const server = play(url, { seconds: 60, inputArgs: ['-listen', '1', '-timeout', '10'], killAfterMs: 20_000 });
  try {
    await waitForListen(port, 5000);
    const pub = publish(url, clip);
    const pubExit = await withTimeout(pub.exited, 15_000, 'publisher to finish');
    assert.equal(pubExit.code, 0, pub.stderr());
    const got = await withTimeout(server.done, 10_000, 'listening ffmpeg to finish');
    const run = assertContiguousRun(got, ref, { gop: GOP });
    assertMonotonic(got);
    assert.deepEqual(run.video, { start: 0, length: packetsOf(ref, 'video').length });
    assert.equal(run.audio.start, 0);
    assert.ok(run.audio.length >= packetsOf(ref, 'audio').length - 2, `audio ${run.audio.length}`);
    // live observation: packets were stamped as they arrived, spread over the -re run
    assert.ok(got.packets.every((p) => typeof p.atMs === 'number'));
    assert.ok(got.packets.at(-1)!.atMs! - got.packets[0]!.atMs! > 1000, 'packets arrived over time (-re)');

    const v = packetsOf(got, 'video');
    const tampered = got.packets.map((p) => (p === v[40] ? { ...p, size: p.size + 1 } : p));
    assert.throws(() => assertContiguousRun({ ...got, packets: tampered }, ref, { gop: GOP }), /video: not contiguous/);
  } finally {
    await server.kill();
  }
});

/**
 * Runs `fn` against ffmpeg listening as an RTMP server (`-listen 1`, a
 * player of rtmp://127.0.0.1:port/live/x) with a raw client connected to it;
 * both are gone afterwards.
 */
async function withListeningFfmpeg(fn: (c: RawRtmpClient, port: number, server: Player) => Promise<void>): Promise<void> {
  const port = await freePort();
  const server = play(`rtmp://127.0.0.1:${port}/live/x`, {
    seconds: 5,
    inputArgs: ['-listen', '1', '-timeout', '10'],
    killAfterMs: 15_000,
  });
  try {
    await waitForListen(port, 5000);
    const c = await RawRtmpClient.connect(port);
    try {
      await fn(c, port, server);
    } finally {
      c.destroy();
    }
  } finally {
    await server.kill();
  }
}

test('raw client: simple handshake + connect against ffmpeg -listen 1', async () => {
  await withListeningFfmpeg(async (c, port) => {
    await c.handshakeAndConnect(port, 'live');
    // ffmpeg answers connect with Window Ack Size (type 5) on csid 2 first.
    const msg = c.received().subarray(1 + 2 * 1536);
    assert.equal(msg[0]! & 0x3f, 2, 'protocol control on csid 2');
    assert.ok(!c.isClosed);
  });
});

test('raw client: sees the peer close on a bad C0', async () => {
  await withListeningFfmpeg(async (c, _port, server) => {
    c.write(Buffer.from([0x42]));
    const closed = await c.expectClosedWithin(3000, 'bad C0');
    assert.ok(closed.atMs < 3000);
    const exit = await withTimeout(server.exited, 5000, 'ffmpeg to exit');
    assert.notEqual(exit.code, 0);
    assert.match(server.stderr(), /version mismatch/);
  });
});

/**
 * What users rely on, through real sockets: our RtmpClient publishes
 * synthetic media and plays it back from a server started per case.
 *
 * Every frame payload carries a counter (u32be) so order, gaps and
 * byte-identity can be checked exactly:
 *
 *   video  17|27  01  000000  nnnnnnnn  fill...   FrameType 1 key / 2 inter | CodecID 7, AVCPacketType 1 (NALUs), CTS 0
 *   audio  af     01          nnnnnnnn  fill...   AAC 44 kHz 16-bit stereo, AACPacketType 1 (raw)
 *
 * Every wait is bounded; each case takes a few seconds at most.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../../src/server/server.js';
import type { ConfigInput } from '../../src/server/config.js';
import type { RtmpSession } from '../../src/server/rtmp-session.js';
import {
  RtmpClient,
  RtmpStatusError,
  type ControlEvent,
  type MediaMessage,
  type RtmpClientOptions,
} from '../../src/server/rtmp-client.js';
import { decodeAmf0, encodeAmf0 } from '../../src/protocol/amf0.js';
import { ecmaArray, type AmfValue } from '../../src/protocol/amf-types.js';
import { sleep, waitFor, withTimeout } from '../helpers/net.js';

// ---- synthetic media ---------------------------------------------------------

/** AVC sequence header: FrameType 1 | CodecID 7, AVCPacketType 0, CTS 0, then an AVCDecoderConfigurationRecord. */
const AVC_SEQUENCE_HEADER = Buffer.from([
  0x17, 0x00, 0x00, 0x00, 0x00,
  0x01, //                 configurationVersion
  0x42, 0xc0, 0x1e, //     AVCProfileIndication Baseline, profile_compatibility, AVCLevelIndication 3.0
  0xff, //                 reserved 111111 | lengthSizeMinusOne 3
  0xe1, //                 reserved 111 | numOfSequenceParameterSets 1
  0x00, 0x09, 0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, // SPS length 9, SPS NALU
  0x01, //                 numOfPictureParameterSets 1
  0x00, 0x04, 0x68, 0xcb, 0x83, 0xcb, // PPS length 4, PPS NALU
]);
/** AAC sequence header: SoundFormat 10 | 44 kHz | 16-bit | stereo, AACPacketType 0, AudioSpecificConfig 0x1210 (LC, 44100, 2 ch). */
const AAC_SEQUENCE_HEADER = Buffer.from([0xaf, 0x00, 0x12, 0x10]);

const META: Record<string, AmfValue> = {
  width: 320,
  height: 240,
  framerate: 25,
  videocodecid: 7,
  audiocodecid: 10,
  encoder: 'sluice-behaviour-test',
};

function videoFrame(n: number, key: boolean, size: number): Buffer {
  const b = Buffer.alloc(Math.max(size, 9), n & 0xff);
  b[0] = key ? 0x17 : 0x27;
  b[1] = 0x01;
  b[2] = b[3] = b[4] = 0;
  b.writeUInt32BE(n >>> 0, 5);
  return b;
}

function audioFrame(n: number, size: number): Buffer {
  const b = Buffer.alloc(Math.max(size, 6), (n + 0x80) & 0xff);
  b[0] = 0xaf;
  b[1] = 0x01;
  b.writeUInt32BE(n >>> 0, 2);
  return b;
}

interface Sent {
  type: number;
  ts: number;
  payload: Buffer;
  n: number;
  key: boolean;
}

interface SourceOptions {
  /** Video frames per GOP (keyframe when n % gop === 0, n counted from 0 for this source). */
  gop?: number;
  frameMs?: number;
  videoBytes?: number;
  audioBytes?: number;
  /** Added to every frame counter, to tell two publishers apart. */
  counterBase?: number;
}

/** A synthetic encoder: video frame n then audio frame n, audio half a frame later. */
class Source {
  i = 0;
  readonly frames: Sent[] = [];
  private timer: NodeJS.Timeout | undefined;
  readonly gop: number;
  readonly frameMs: number;

  constructor(
    readonly c: RtmpClient,
    readonly o: SourceOptions = {},
  ) {
    this.gop = o.gop ?? 10;
    this.frameMs = o.frameMs ?? 40;
  }

  /** @setDataFrame onMetaData + both sequence headers; returns the data message payload sent. */
  headers(meta = META): Buffer {
    const sent = this.c.setDataFrame(meta, 0);
    this.c.sendMedia(9, 0, AVC_SEQUENCE_HEADER);
    this.c.sendMedia(8, 0, AAC_SEQUENCE_HEADER);
    return sent;
  }

  /** The counter the next video frame will carry. */
  get nextN(): number {
    return (this.o.counterBase ?? 0) + this.i;
  }

  frame(): void {
    const n = this.nextN;
    const key = this.i % this.gop === 0;
    const ts = this.i * this.frameMs;
    const v = videoFrame(n, key, this.o.videoBytes ?? 64);
    const a = audioFrame(n, this.o.audioBytes ?? 16);
    this.c.sendMedia(9, ts, v);
    this.c.sendMedia(8, ts + Math.floor(this.frameMs / 2), a);
    this.frames.push({ type: 9, ts, payload: v, n, key }, { type: 8, ts: ts + Math.floor(this.frameMs / 2), payload: a, n, key: false });
    this.i++;
  }

  send(count: number): void {
    for (let k = 0; k < count; k++) this.frame();
  }

  /** Real-time pushing, one frame every frameMs. */
  start(): void {
    this.timer ??= setInterval(() => {
      if (!this.c.isClosed) this.frame();
    }, this.frameMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

// ---- what a player saw -------------------------------------------------------

type Kind = 'meta' | 'sampleAccess' | 'data' | 'vseq' | 'aseq' | 'key' | 'inter' | 'audio';

interface MediaEntry {
  what: 'media';
  kind: Kind;
  type: number;
  ts: number;
  /** Frame counter (-1 for headers and data). */
  n: number;
  payload: Buffer;
  streamId: number;
}
type Entry =
  | MediaEntry
  | { what: 'status'; code: string; level: string; streamId: number }
  | { what: 'uc'; event: string; time?: number }
  | { what: 'close'; error?: string };

function classify(m: MediaMessage): MediaEntry {
  const p = m.payload;
  let kind: Kind = 'data';
  let n = -1;
  if (m.type === 9) {
    kind = p[1] === 0 ? 'vseq' : p[0]! >> 4 === 1 ? 'key' : 'inter';
    if (kind !== 'vseq' && p.length >= 9) n = p.readUInt32BE(5);
  } else if (m.type === 8) {
    kind = p[1] === 0 ? 'aseq' : 'audio';
    if (kind === 'audio' && p.length >= 6) n = p.readUInt32BE(2);
  } else if (m.type === 18) {
    let first: AmfValue;
    try {
      first = decodeAmf0(p)[0];
    } catch {
      first = undefined;
    }
    kind = first === 'onMetaData' ? 'meta' : first === '|RtmpSampleAccess' ? 'sampleAccess' : 'data';
  }
  return { what: 'media', kind, type: m.type, ts: m.timestamp, n, payload: m.payload, streamId: m.streamId };
}

const isFrame = (e: MediaEntry): boolean => e.kind === 'key' || e.kind === 'inter' || e.kind === 'audio';
const isVideoFrame = (e: MediaEntry): boolean => e.kind === 'key' || e.kind === 'inter';

/** Everything a client received, in arrival order. */
class Recorder {
  readonly log: Entry[] = [];
  closed = false;

  constructor(readonly c: RtmpClient) {
    c.on('media', (m) => this.log.push(classify(m)));
    c.on('status', (s) => this.log.push({ what: 'status', code: s.code, level: s.level, streamId: s.streamId }));
    c.on('userControl', (uc) => this.log.push({ what: 'uc', event: uc.event, ...('time' in uc ? { time: uc.time } : {}) }));
    c.on('close', (err) => {
      this.closed = true;
      this.log.push({ what: 'close', ...(err ? { error: err.message } : {}) });
    });
  }

  /** Media entries from log index `from`, without |RtmpSampleAccess. */
  media(from = 0): MediaEntry[] {
    return this.log.slice(from).filter((e): e is MediaEntry => e.what === 'media' && e.kind !== 'sampleAccess');
  }

  video(from = 0): MediaEntry[] {
    return this.media(from).filter(isVideoFrame);
  }

  audio(from = 0): MediaEntry[] {
    return this.media(from).filter((e) => e.kind === 'audio');
  }

  statusIndex(code: string): number {
    return this.log.findIndex((e) => e.what === 'status' && e.code === code);
  }

  async status(code: string, ms = 3000): Promise<number> {
    await waitFor(() => this.statusIndex(code) >= 0, ms, `status ${code}`, 5);
    return this.statusIndex(code);
  }

  hasVideo(n: number): boolean {
    return this.log.some((e) => e.what === 'media' && isVideoFrame(e) && e.n === n);
  }

  hasAudio(n: number): boolean {
    return this.log.some((e) => e.what === 'media' && e.kind === 'audio' && e.n === n);
  }

  /** Waits until video and audio frame `n` are both in. */
  async frame(n: number, ms = 3000): Promise<void> {
    await waitFor(() => this.hasVideo(n) && this.hasAudio(n), ms, `frame ${n} (video and audio)`, 5);
  }
}

/** Same type, timestamp and bytes, in order; names the first difference. */
function assertSameTags(got: MediaEntry[], want: Sent[], what: string, opts: { timestamps?: boolean } = {}): void {
  const checkTs = opts.timestamps ?? true;
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    const g = got[i]!;
    const w = want[i]!;
    const same = g.type === w.type && (!checkTs || g.ts === w.ts) && g.payload.equals(w.payload);
    assert.ok(
      same,
      `${what}: tag ${i} differs: got type ${g.type} ts ${g.ts} n ${g.n} (${g.payload.length} bytes), ` +
        `want type ${w.type} ts ${w.ts} n ${w.n} (${w.payload.length} bytes)`,
    );
  }
  assert.equal(got.length, want.length, `${what}: got ${got.length} tags, want ${want.length}`);
}

/** Timestamps never go backwards within a track (audio 8, video 9, data 18). */
function assertMonotonicPerTrack(entries: MediaEntry[], what: string): void {
  const last = new Map<number, MediaEntry>();
  for (const e of entries) {
    const prev = last.get(e.type);
    if (prev) {
      assert.ok(
        e.ts >= prev.ts,
        `${what}: type ${e.type} timestamp went back from ${prev.ts} (${prev.kind} n=${prev.n}) to ${e.ts} (${e.kind} n=${e.n})`,
      );
    }
    last.set(e.type, e);
  }
}

// ---- one server per case ------------------------------------------------------

interface Harness {
  srv: RunningServer;
  url: string;
  client(opts?: RtmpClientOptions): Promise<RtmpClient>;
  /** A synthetic source on a publishing client, stopped when the case ends (pass or fail). */
  source(c: RtmpClient, opts?: SourceOptions): Source;
  /** The server-side session of a client (matched by its local port). */
  sessionOf(c: RtmpClient): RtmpSession | undefined;
}

async function withServer(cfg: ConfigInput, fn: (h: Harness) => Promise<void>): Promise<void> {
  const srv = await withTimeout(
    startServer({ ...cfg, rtmp: { host: '127.0.0.1', port: 0, ...cfg.rtmp }, http: { host: '127.0.0.1', port: 0 }, log: { level: 'silent' } }),
    5000,
    'startServer',
  );
  const clients: RtmpClient[] = [];
  const sources: Source[] = [];
  const url = `rtmp://127.0.0.1:${srv.rtmpPort}/live`;
  const h: Harness = {
    srv,
    url,
    async client(opts = {}) {
      const c = await RtmpClient.connect(url, { timeoutMs: 3000, ...opts });
      clients.push(c);
      return c;
    },
    source(c, opts = {}) {
      const src = new Source(c, opts);
      sources.push(src);
      return src;
    },
    sessionOf(c) {
      const port = c.socket.localPort;
      for (const s of srv.ctx.sessions.values()) {
        const rs = s as unknown as RtmpSession;
        if (rs.socket.remotePort === port) return rs;
      }
      return undefined;
    },
  };
  try {
    await fn(h);
  } finally {
    for (const src of sources) src.stop();
    for (const c of clients) c.destroy();
    await withTimeout(srv.close(), 5000, 'server close');
  }
}

const streamOf = (srv: RunningServer, name: string) => srv.ctx.hub.get('live', name);

// ---- cases --------------------------------------------------------------------

test('publish → play: onMetaData unwrapped byte for byte, sequence headers, then every frame identical, in order, on the player stream id', { timeout: 15000 }, async () => {
  await withServer({}, async (h) => {
    const pub = await h.client();
    await pub.publish('basic');
    const src = h.source(pub, { gop: 10 });
    const setDataFrame = src.headers();
    await pub.ping(); // the server has taken the headers in

    const player = await h.client();
    const rec = new Recorder(player);
    await player.play('basic');
    assert.equal(player.streamId, 1);
    src.send(30);
    await rec.frame(29);
    await pub.ping();
    await sleep(100); // anything extra (duplicates) would be in by now

    const media = rec.media();
    assert.deepEqual(media.slice(0, 3).map((e) => e.kind), ['meta', 'vseq', 'aseq']);
    // "@setDataFrame" as AMF0: marker 02, length 000d, 13 bytes = 16 bytes stripped; the rest unchanged.
    assert.ok(media[0]!.payload.equals(setDataFrame.subarray(16)), 'onMetaData is what followed @setDataFrame');
    assert.ok(media[0]!.payload.equals(encodeAmf0(['onMetaData', ecmaArray(META)])), 'onMetaData re-encodes to the same bytes');
    assert.ok(media[1]!.payload.equals(AVC_SEQUENCE_HEADER));
    assert.ok(media[2]!.payload.equals(AAC_SEQUENCE_HEADER));
    assert.deepEqual(media.slice(0, 3).map((e) => e.ts), [0, 0, 0]);
    assertSameTags(media.slice(3), src.frames, 'frames');
    for (const e of rec.log) {
      if (e.what === 'media') assert.equal(e.streamId, 1, `${e.kind} on message stream ${e.streamId}`);
    }
  });
});

test('late join: metadata and both sequence headers first, then the GOP from the latest keyframe, and no earlier GOP', { timeout: 15000 }, async () => {
  await withServer({}, async (h) => {
    const pub = await h.client();
    await pub.publish('late');
    const src = h.source(pub, { gop: 10 });
    src.headers();
    src.send(35); // keyframes at 0, 10, 20, 30
    await pub.ping();

    const player = await h.client();
    const rec = new Recorder(player);
    await player.play('late');
    await rec.frame(34);
    src.send(5); // and live continues after the cache
    await rec.frame(39);
    await pub.ping();
    await sleep(100);

    const media = rec.media();
    assert.deepEqual(media.slice(0, 3).map((e) => e.kind), ['meta', 'vseq', 'aseq']);
    const firstVideo = media.find(isVideoFrame)!;
    assert.equal(firstVideo.kind, 'key');
    assert.equal(firstVideo.n, 30, 'starts at the latest keyframe');
    assert.ok(!media.some((e) => isFrame(e) && e.n < 30), 'nothing from an earlier GOP');
    const from = src.frames.findIndex((f) => f.type === 9 && f.n === 30);
    assertSameTags(media.slice(3), src.frames.slice(from), 'GOP cache then live');
  });
});

test('republish within grace: UnpublishNotify, player stays, PublishNotify, new frames with timestamps continuing monotonic', { timeout: 15000 }, async () => {
  await withServer({ media: { republishGraceMs: 2000 } }, async (h) => {
    const pub1 = await h.client();
    await pub1.publish('re');
    const src1 = h.source(pub1, { gop: 10 });
    src1.headers();
    await pub1.ping();
    const player = await h.client();
    const rec = new Recorder(player);
    await player.play('re');
    src1.send(20);
    await rec.frame(19);

    await pub1.close();
    const unpub = await rec.status('NetStream.Play.UnpublishNotify');
    await sleep(200);
    assert.equal(rec.closed, false, 'player stays connected during the grace period');

    const pub2 = await h.client();
    await pub2.publish('re'); // not BadName: the name is free again
    const pubNotify = await rec.status('NetStream.Play.PublishNotify');
    const src2 = h.source(pub2, { gop: 10, counterBase: 1000 });
    src2.headers();
    src2.send(20);
    await rec.frame(1019);
    await pub2.ping();
    await sleep(100);

    assert.ok(unpub < pubNotify, 'UnpublishNotify before PublishNotify');
    const firstNew = rec.log.findIndex((e) => e.what === 'media' && e.n >= 1000);
    assert.ok(pubNotify < firstNew, 'PublishNotify before the new publisher\'s frames');
    assert.equal(rec.closed, false);

    const all = rec.media();
    assertMonotonicPerTrack(all, 'player');
    const newFrames = rec.media(pubNotify).filter(isFrame);
    assertSameTags(newFrames, src2.frames, 'new publisher frames', { timestamps: false });
    const lastOldVideo = rec.video().filter((e) => e.n < 1000).at(-1)!;
    assert.ok(newFrames[0]!.ts > lastOldVideo.ts, `new clock continues after the old one: ${newFrames[0]!.ts} > ${lastOldVideo.ts}`);
    // One offset for both tracks: A/V sync of the new publisher is kept.
    const offsets = new Set(newFrames.map((e, i) => e.ts - src2.frames[i]!.ts));
    assert.equal(offsets.size, 1, `one rebase offset, got ${[...offsets].join(',')}`);
  });
});

test('republish: the player sees monotonic timestamps even when metadata and sequence headers arrive in separate reads', {
  timeout: 15000,
}, async () => {
  await withServer({ media: { republishGraceMs: 2000 } }, async (h) => {
    const pub1 = await h.client();
    await pub1.publish('re2');
    const src1 = h.source(pub1, { gop: 10 });
    src1.headers();
    await pub1.ping();
    const player = await h.client();
    const rec = new Recorder(player);
    await player.play('re2');
    src1.send(20);
    await rec.frame(19);
    await pub1.close();
    await rec.status('NetStream.Play.UnpublishNotify');

    const pub2 = await h.client();
    await pub2.publish('re2');
    await rec.status('NetStream.Play.PublishNotify');
    // As ffmpeg writes them: one message per write; here one event-loop turn apart.
    pub2.setDataFrame(META, 0);
    await pub2.ping();
    pub2.sendMedia(9, 0, AVC_SEQUENCE_HEADER);
    pub2.sendMedia(8, 0, AAC_SEQUENCE_HEADER);
    const src2 = h.source(pub2, { gop: 10, counterBase: 1000 });
    src2.send(10);
    await rec.frame(1009);
    assertMonotonicPerTrack(rec.media(), 'player');
  });
});

test('grace expiry: the player gets Play.Stop after the grace period and is disconnected', { timeout: 10000 }, async () => {
  const GRACE = 300;
  await withServer({ media: { republishGraceMs: GRACE } }, async (h) => {
    const pub = await h.client();
    await pub.publish('gone');
    const src = h.source(pub);
    src.headers();
    const player = await h.client();
    const rec = new Recorder(player);
    await player.play('gone');
    src.send(10);
    await rec.frame(9);

    await pub.close();
    await rec.status('NetStream.Play.UnpublishNotify');
    const tUnpub = Date.now();
    await rec.status('NetStream.Play.Stop', GRACE + 2000);
    const tStop = Date.now();
    await waitFor(() => rec.closed, 2000, 'player disconnected after Play.Stop');
    assert.ok(tStop - tUnpub >= GRACE - 100, `Play.Stop ${tStop - tUnpub} ms after UnpublishNotify: the grace period was honoured`);
    assert.equal(streamOf(h.srv, 'gone'), undefined, 'stream gone from the registry');
    const stop = rec.log.find((e) => e.what === 'status' && e.code === 'NetStream.Play.Stop');
    assert.equal(stop?.what === 'status' && stop.streamId, 1);
  });
});

test('duplicate publish: the second publisher gets Publish.BadName; the first keeps publishing and the player keeps receiving', { timeout: 15000 }, async () => {
  await withServer({}, async (h) => {
    const pub1 = await h.client();
    await pub1.publish('dup');
    const src = h.source(pub1, { gop: 10, frameMs: 20 });
    src.headers();
    const player = await h.client();
    const rec = new Recorder(player);
    await player.play('dup');
    src.start();
    await waitFor(() => rec.video().length >= 10, 3000, 'player receiving');

    const pub2 = await h.client();
    const pub2rec = new Recorder(pub2);
    await assert.rejects(pub2.publish('dup'), (err: unknown) => {
      assert.ok(err instanceof RtmpStatusError, `got ${String(err)}`);
      assert.equal(err.status.code, 'NetStream.Publish.BadName');
      assert.match(err.message, /NetStream\.Publish\.BadName/);
      return true;
    });
    await waitFor(() => pub2rec.closed, 2000, 'server closes the refused publisher');

    const atRefusal = src.nextN;
    await rec.frame(atRefusal + 15, 3000);
    src.stop();
    assert.equal(pub1.isClosed, false, 'first publisher still connected');
    assert.equal(rec.closed, false, 'player still connected');
    const video = rec.video().map((e) => e.n);
    const audio = rec.audio().map((e) => e.n);
    video.forEach((n, i) => i === 0 || assert.equal(n, video[i - 1]! + 1, `video gap at ${video[i - 1]} -> ${n}`));
    audio.forEach((n, i) => i === 0 || assert.equal(n, audio[i - 1]! + 1, `audio gap at ${audio[i - 1]} -> ${n}`));
  });
});

test('play of a missing stream with media.playWaitMs 0: Play.StreamNotFound, the session stays usable', { timeout: 10000 }, async () => {
  await withServer({ media: { playWaitMs: 0 } }, async (h) => {
    const player = await h.client();
    await assert.rejects(player.play('nothing'), (err: unknown) => {
      assert.ok(err instanceof RtmpStatusError, `got ${String(err)}`);
      assert.equal(err.status.code, 'NetStream.Play.StreamNotFound');
      assert.match(err.message, /NetStream\.Play\.StreamNotFound/);
      return true;
    });
    await player.ping();
    assert.equal(player.isClosed, false);
    assert.equal(streamOf(h.srv, 'nothing'), undefined, 'no stream left behind');
  });
});

test('play waits media.playWaitMs for a publisher: one arriving after 300 ms is played from its first keyframe', { timeout: 10000 }, async () => {
  await withServer({ media: { playWaitMs: 1500 } }, async (h) => {
    const player = await h.client();
    const rec = new Recorder(player);
    const t0 = Date.now();
    await player.play('soon');
    await sleep(300);
    const pub = await h.client();
    await pub.publish('soon');
    const src = h.source(pub, { gop: 10 });
    src.headers();
    src.send(15);
    await rec.status('NetStream.Play.PublishNotify');
    await rec.frame(14);
    // Past the wait: the player must not be told StreamNotFound now that the stream is live.
    await sleep(Math.max(0, 1800 - (Date.now() - t0)));

    assert.equal(rec.statusIndex('NetStream.Play.StreamNotFound'), -1);
    assert.equal(rec.closed, false);
    const media = rec.media();
    assert.deepEqual(media.slice(0, 3).map((e) => e.kind), ['meta', 'vseq', 'aseq']);
    assertSameTags(media.slice(3), src.frames, 'frames');
  });
});

test('stalled player: disconnected after player.stallTimeoutMs with bounded server-side buffering; a normal player on the stream gets every frame', { timeout: 25000 }, async () => {
  const HW = 64 * 1024;
  const STALL = 1500;
  const FRAME = 40000; // 50 fps x 40 kB = 2 MB/s
  await withServer(
    { player: { writeHighWaterBytes: HW, queueMaxBytes: 1024 * 1024, queueMaxMs: 1000, stallTimeoutMs: STALL } },
    async (h) => {
      const pub = await h.client();
      await pub.publish('stall');
      const src = h.source(pub, { gop: 25, frameMs: 20, videoBytes: FRAME, audioBytes: 200 });
      src.headers();
      const normal = await h.client();
      const recN = new Recorder(normal);
      await normal.play('stall');
      const stalled = await h.client();
      const recS = new Recorder(stalled);
      await stalled.play('stall');
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
      const pub = await h.client();
      await pub.publish('lag');
      const src = h.source(pub, { gop: GOP, frameMs: 20, videoBytes: 80000, audioBytes: 200 });
      src.headers();
      const lag = await h.client();
      const rec = new Recorder(lag);
      await lag.play('lag');

      // Throttle: stop reading as soon as we are ahead of RATE, resume when behind.
      const t0 = Date.now();
      const base = lag.stats.bytesIn;
      let throttled = true;
      const ahead = (): boolean => lag.stats.bytesIn - base > ((Date.now() - t0) * RATE) / 1000;
      lag.socket.on('data', () => {
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

test('aggregate message (type 22) is split: the player gets each tag with its timestamp re-based on the aggregate\'s', { timeout: 10000 }, async () => {
  await withServer({}, async (h) => {
    const pub = await h.client();
    await pub.publish('agg');
    pub.setDataFrame(META);
    pub.sendMedia(9, 0, AVC_SEQUENCE_HEADER);
    pub.sendMedia(8, 0, AAC_SEQUENCE_HEADER);
    await pub.ping();
    const player = await h.client();
    const rec = new Recorder(player);
    const types: number[] = [];
    player.on('message', (hdr) => types.push(hdr.type));
    await player.play('agg');

    // Sub-message timestamps 100.. inside an aggregate stamped 2000 (RTMP spec 7.1.6): they play at 2000..
    const tags = [
      { type: 9, timestamp: 100, payload: videoFrame(0, true, 300) },
      { type: 8, timestamp: 110, payload: audioFrame(0, 20) },
      { type: 9, timestamp: 140, payload: videoFrame(1, false, 200) },
      { type: 8, timestamp: 150, payload: audioFrame(1, 20) },
      { type: 9, timestamp: 180, payload: videoFrame(2, false, 200) },
    ];
    pub.sendAggregate(tags, 2000);
    await waitFor(() => rec.hasVideo(2), 3000, 'last tag of the aggregate');
    await pub.ping();
    await sleep(50);

    const frames = rec.media().filter(isFrame);
    assertSameTags(
      frames,
      tags.map((t, i) => ({ type: t.type, ts: 2000 + t.timestamp - 100, payload: t.payload, n: i >> 1, key: i === 0 })),
      'aggregate contents',
    );
    assert.ok(!types.includes(22), 'no aggregate reaches the player');
  });
});

test('AMF3 connect (type 17) is accepted and objectEncoding 3 echoed; AMF3 commands publish; AMF0 connect gets 0', { timeout: 10000 }, async () => {
  await withServer({}, async (h) => {
    const pub = await h.client({ amf3: true });
    assert.equal(pub.connectInfo?.code, 'NetConnection.Connect.Success');
    assert.equal(pub.connectInfo?.objectEncoding, 3);
    assert.equal(h.sessionOf(pub)?.commands.objectEncoding, 3);
    await pub.publish('amf3'); // createStream and publish as type 17 too

    const player = await h.client();
    assert.equal(player.connectInfo?.objectEncoding, 0);
    const rec = new Recorder(player);
    await player.play('amf3');
    const src = h.source(pub);
    src.headers();
    src.send(10);
    await rec.frame(9);
    assertSameTags(rec.media().filter(isFrame), src.frames, 'frames of an AMF3 publisher');
  });
});

test('ping: PingRequest answered with a PingResponse of the same time; acknowledgements flow both ways per the announced windows', { timeout: 10000 }, async () => {
  const WINDOW = 100_000;
  await withServer({ rtmp: { windowAckSize: WINDOW } }, async (h) => {
    // Ping.
    const player = await h.client();
    const rec = new Recorder(player);
    await player.ping(0x12345678);
    assert.ok(rec.log.some((e) => e.what === 'uc' && e.event === 'PingResponse' && e.time === 0x12345678));
    assert.equal(player.serverWindowAckSize, WINDOW, 'server announced rtmp.windowAckSize');

    // The server acknowledges what a client sends once the client announces a window (RTMP spec 5.4.4).
    const pub = await h.client({ windowAckSize: WINDOW });
    const acks: number[] = [];
    pub.on('control', (c: ControlEvent) => {
      if (c.type === 'Acknowledgement') acks.push(c.value);
    });
    await pub.publish('acks');
    await player.play('acks');
    const src = h.source(pub, { videoBytes: 40000 });
    src.headers();
    src.send(15); // ~600 kB
    await pub.ping();
    await rec.frame(14);

    // One ack per read that completes a window: a read of up to 64 KiB can overshoot it, so at least one per two windows.
    const sentAfterHandshake = pub.stats.bytesOut - 3073;
    assert.ok(acks.length >= Math.floor(sentAfterHandshake / (2 * WINDOW)), `server sent ${acks.length} acknowledgements for ${sentAfterHandshake} bytes`);
    acks.forEach((v, i) => i === 0 || assert.ok(v - acks[i - 1]! >= WINDOW, `acks ${acks[i - 1]} -> ${v}: less than a window apart`));
    // Sequence number = bytes received since the handshake (C0+C1+C2 = 3073 bytes are not counted).
    assert.ok(acks.at(-1)! <= sentAfterHandshake, `ack ${acks.at(-1)} > bytes sent ${sentAfterHandshake}`);
    assert.ok(acks.at(-1)! >= sentAfterHandshake - 2 * WINDOW, `last ack ${acks.at(-1)} lags bytes sent (${sentAfterHandshake}) by more than two windows`);
    // And the player acknowledged the server's window while reading ~600 kB, without upsetting it.
    const acksDue = Math.floor(player.stats.bytesIn / (2 * WINDOW));
    assert.ok(acksDue >= 2 && player.stats.acksSent >= acksDue, `player sent ${player.stats.acksSent} acknowledgements for ${player.stats.bytesIn} bytes`);
    await player.ping();
    assert.equal(rec.closed, false);
  });
});

test('pause/unpause: no media while paused; resumes at a keyframe after Unpause.Notify; receiveVideo false stops video only', { timeout: 15000 }, async () => {
  await withServer({}, async (h) => {
    const pub = await h.client();
    await pub.publish('pause');
    const src = h.source(pub, { gop: 10, frameMs: 20 });
    src.headers();
    const player = await h.client();
    const rec = new Recorder(player);
    await player.play('pause');
    src.start();
    try {
      await waitFor(() => rec.video().length >= 10, 3000, 'playing');

      player.command('pause', true, 0);
      const paused = await rec.status('NetStream.Pause.Notify');
      const lastBefore = rec.log.slice(0, paused).filter((e): e is MediaEntry => e.what === 'media' && isVideoFrame(e)).at(-1)!;
      await sleep(500); // > 1 GOP (10 x 20 ms)
      assert.equal(rec.media(paused + 1).length, 0, 'media after Pause.Notify');

      player.command('pause', false, 0);
      const unpaused = await rec.status('NetStream.Unpause.Notify');
      await waitFor(() => rec.video(unpaused).length >= 12, 3000, 'media after unpause');
      const after = rec.media(unpaused);
      // The player already holds the (unchanged) sequence headers: the first media is the keyframe.
      assert.equal(after[0]!.kind, 'key', `first media after unpause: ${after[0]!.kind}`);
      assert.ok(!after.some((e) => e.kind === 'vseq' || e.kind === 'aseq'), 'unchanged sequence headers are not re-sent');
      const video = after.filter(isVideoFrame);
      assert.equal(video[0]!.kind, 'key', 'resumes at a keyframe');
      assert.ok(video[0]!.n > lastBefore.n, `resumes at the live edge: ${video[0]!.n} after ${lastBefore.n}`);
      video.forEach((e, i) => i === 0 || assert.equal(e.n, video[i - 1]!.n + 1, `gap after unpause at ${video[i - 1]!.n}`));

      // receiveVideo false: once a ping round trip proves the command was handled, no video, audio goes on.
      player.command('receiveVideo', false);
      await player.ping(77);
      const mark = rec.log.findIndex((e) => e.what === 'uc' && e.event === 'PingResponse' && e.time === 77);
      await sleep(300);
      assert.equal(rec.video(mark).length, 0, 'video after receiveVideo false');
      assert.ok(rec.audio(mark).length >= 5, `audio after receiveVideo false: ${rec.audio(mark).length}`);

      player.command('receiveVideo', true);
      await player.ping(78);
      const mark2 = rec.log.findIndex((e) => e.what === 'uc' && e.event === 'PingResponse' && e.time === 78);
      await waitFor(() => rec.video(mark2).length >= 3, 3000, 'video back after receiveVideo true');
    } finally {
      src.stop();
    }
  });
});

test('pause shorter than a GOP: unpause delivers no frame twice and timestamps stay monotonic', {
  timeout: 10000,
}, async () => {
  await withServer({}, async (h) => {
    const pub = await h.client();
    await pub.publish('short-pause');
    const src = h.source(pub, { gop: 25, frameMs: 20 });
    src.headers();
    const player = await h.client();
    const rec = new Recorder(player);
    await player.play('short-pause');
    src.start();
    await waitFor(() => rec.video().some((e) => e.n === 5), 3000, 'mid-GOP');
    player.command('pause', true, 0);
    await rec.status('NetStream.Pause.Notify');
    player.command('pause', false, 0);
    const unpaused = await rec.status('NetStream.Unpause.Notify');
    await waitFor(() => rec.video(unpaused).length >= 5, 3000, 'media after unpause');
    const seen = rec.video().map((e) => e.n);
    assert.equal(new Set(seen).size, seen.length, `frames delivered twice: ${seen.join(',')}`);
    assertMonotonicPerTrack(rec.media().filter(isFrame), 'player');
  });
});

test('receiveVideo true resumes video at a keyframe, not mid-GOP', {
  timeout: 10000,
}, async () => {
  await withServer({}, async (h) => {
    const pub = await h.client();
    await pub.publish('rv');
    const src = h.source(pub, { gop: 25, frameMs: 20 });
    src.headers();
    const player = await h.client();
    const rec = new Recorder(player);
    await player.play('rv');
    src.start();
    await waitFor(() => rec.video().length >= 3, 3000, 'playing');
    player.command('receiveVideo', false);
    await player.ping();
    // Turn video back on early in a GOP, so the next frame due is an inter frame.
    await waitFor(() => src.nextN % 25 === 3, 3000, 'early in a GOP', 1);
    player.command('receiveVideo', true);
    await player.ping(79);
    const mark = rec.log.findIndex((e) => e.what === 'uc' && e.event === 'PingResponse' && e.time === 79);
    await waitFor(() => rec.video(mark).length >= 1, 3000, 'video back');
    const first = rec.video(mark)[0]!;
    assert.equal(first.kind, 'key', `video resumed with ${first.kind} frame ${first.n}`);
  });
});

test('unknown command with a transaction id gets _error; the session stays usable', { timeout: 10000 }, async () => {
  await withServer({}, async (h) => {
    const c = await h.client();
    const reply = await c.call('noSuchMethod', 1, 'x');
    assert.equal(reply.ok, false);
    const info = reply.args[0] as Record<string, AmfValue>;
    assert.equal(info.level, 'error');
    assert.equal(info.code, 'NetConnection.Call.Failed');
    assert.match(String(info.description), /noSuchMethod/);
    // Still usable: a stream, a publish, a ping.
    assert.equal(await c.createStream(), 1);
    await c.publish('after-error');
    await c.ping();
    assert.equal(c.isClosed, false);
    assert.ok(streamOf(h.srv, 'after-error')?.live);
  });
});

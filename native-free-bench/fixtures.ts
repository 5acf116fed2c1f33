/**
 * What the benchmarks feed: real bytes from ffmpeg where they matter
 * (commands, metadata, codec configuration) and a synthetic publish with
 * the shape of a real one (frame rate, GOP, frame sizes, interleaving).
 */
import { LiveStream } from '../src/media/live-stream.js';
import { StreamSlab } from '../src/media/stream-slab.js';
import { ChunkWriter } from '../src/protocol/chunk-writer.js';
import { TagType } from '../src/protocol/types.js';

/** Hex with `# comments` to the end of a line and any spacing. */
const hex = (s: string): Buffer => Buffer.from(s.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');

/**
 * `connect` as ffmpeg 4.1 (Lavf58.24) sends it when it plays
 * rtmp://127.0.0.1:19355/live/cam1, captured from the socket:
 * "connect", 1.0, { app, flashVer, tcUrl, fpad, capabilities, audioCodecs,
 * videoCodecs, videoFunction }.
 */
export const CONNECT_COMMAND = hex(`
  02 0007 636f6e6e656374  # string "connect"
  00 3ff0000000000000  # number 1 (transaction id)
  03  # object
    0003 617070 02 0004 6c697665  # app: "live"
    0008 666c617368566572 02 000d 4c4e5820392c302c3132342c32  # flashVer: "LNX 9,0,124,2"
    0005 746355726c 02 001b 72746d703a2f2f3132372e302e302e313a31393335352f6c697665  # tcUrl
    0004 66706164 01 00  # fpad: false
    000c 6361706162696c6974696573 00 402e000000000000  # capabilities: 15
    000b 617564696f436f64656373 00 40afce0000000000  # audioCodecs: 4071
    000b 766964656f436f64656373 00 406f800000000000  # videoCodecs: 252
    000d 766964656f46756e6374696f6e 00 3ff0000000000000  # videoFunction: 1
  000009  # object end
`);

/**
 * onMetaData as ffmpeg (Lavf58.24) writes it (test/fixtures/testsrc-160x120-aac.flv,
 * first script tag), inside the @setDataFrame wrapper an RTMP publisher adds:
 * "@setDataFrame", "onMetaData", ECMA array of 13 entries (duration, width,
 * height, videodatarate, framerate, videocodecid, audiodatarate,
 * audiosamplerate, audiosamplesize, stereo, audiocodecid, encoder, filesize).
 */
export const SET_DATA_FRAME = hex(`
  02000d40736574446174614672616d65
  02000a6f6e4d65746144617461080000000d00086475726174696f6e003fdeb851eb851eb800057769647468004064000000000000
  000668656967687400405e000000000000000d766964656f646174617261746500000000000000000000096672616d6572617465
  004039000000000000000c766964656f636f646563696400401c000000000000000d617564696f646174617261746500405f4000
  00000000000f617564696f73616d706c65726174650040e5888000000000000f617564696f73616d706c6573697a650040300000
  00000000000673746572656f0101000c617564696f636f64656369640040240000000000000007656e636f64657202000d4c6176
  6635382e32342e313030000866696c6573697a650040c55a8000000000000009
`);

/** AVC sequence header from the same file: 17 00 000000 (key, AVC, AVCPacketType 0) + AVCDecoderConfigurationRecord. */
export const AVC_SEQUENCE_HEADER = hex(
  '17000000000164000bffe100196764000bacd942847e5c0440000003004000000c83c50a658001000668ebe3cb22c0',
);

/** AAC sequence header from the same file: af 00 (AAC, AACPacketType 0) + AudioSpecificConfig 1210 56e5 00. */
export const AAC_SEQUENCE_HEADER = hex('af00121056e500');

export interface MediaMessage {
  type: number;
  timestamp: number;
  body: Buffer;
}

/** Publish shape: 25 fps, a keyframe every 2 s, ~60 KB key / ~10 KB inter frames (~2.2 Mbit/s), AAC 44.1 kHz (~43 frames/s, ~370 B). */
export const VIDEO_FPS = 25;
export const GOP_FRAMES = 50;
export const KEY_BYTES = 60_000;
export const INTER_BYTES = 10_000;
export const AAC_FRAME_MS = 1024 / 44.1;
export const AAC_BYTES = 372;
/** Seconds of media in one benchmark op: two GOPs. */
export const MIX_SECONDS = 4;

/** Deterministic sizes jittered ±span/2 (a tiny LCG, so every run feeds the same bytes). */
function jitter(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function videoFrame(key: boolean, n: number, size: number): Buffer {
  const b = Buffer.alloc(size, n & 0xff);
  b[0] = key ? 0x17 : 0x27; // FrameType 1/2 | CodecID 7 (AVC)
  b[1] = 1; // AVCPacketType 1: NALUs
  b[2] = b[3] = 0;
  b[4] = 0x50; // CompositionTime 80 ms (B-frames)
  b.writeUInt32BE(size - 9, 5); // one length-prefixed NALU
  return b;
}

function aacFrame(n: number, size: number): Buffer {
  const b = Buffer.alloc(size, n & 0xff);
  b[0] = 0xaf; // SoundFormat 10 (AAC), 44 kHz, 16 bit, stereo
  b[1] = 1; // AACPacketType 1: raw frame
  return b;
}

/** Metadata and sequence headers at 0, then video and audio interleaved by timestamp, as an encoder sends them. */
export function mediaMix(seconds = MIX_SECONDS): MediaMessage[] {
  const r = jitter(1);
  const out: MediaMessage[] = [
    { type: TagType.Script, timestamp: 0, body: SET_DATA_FRAME },
    { type: TagType.Video, timestamp: 0, body: AVC_SEQUENCE_HEADER },
    { type: TagType.Audio, timestamp: 0, body: AAC_SEQUENCE_HEADER },
  ];
  const frames = seconds * VIDEO_FPS;
  let a = 0;
  for (let f = 0; f < frames; f++) {
    const ts = Math.round((f * 1000) / VIDEO_FPS);
    for (; a * AAC_FRAME_MS <= ts; a++) {
      out.push({ type: TagType.Audio, timestamp: Math.round(a * AAC_FRAME_MS), body: aacFrame(a, Math.round(AAC_BYTES + 40 * r())) });
    }
    const key = f % GOP_FRAMES === 0;
    const size = key ? KEY_BYTES + 8000 * r() : INTER_BYTES + 4000 * r();
    out.push({ type: TagType.Video, timestamp: ts, body: videoFrame(key, f, Math.round(size)) });
  }
  return out;
}

const STARTERS: ReadonlySet<Buffer> = new Set([SET_DATA_FRAME, AVC_SEQUENCE_HEADER, AAC_SEQUENCE_HEADER]);

/** The metadata and sequence headers a mix starts with. */
export function startersOf(mix: readonly MediaMessage[]): MediaMessage[] {
  return mix.filter((m) => STARTERS.has(m.body));
}

/** The audio/video frames of a mix, without the metadata and sequence headers it starts with. */
export function framesOf(mix: readonly MediaMessage[]): MediaMessage[] {
  return mix.filter((m) => !STARTERS.has(m.body));
}

export function bodyBytes(mix: readonly MediaMessage[]): number {
  return mix.reduce((n, m) => n + m.body.length, 0);
}

/** ffmpeg's chunk streams when publishing: video on 6, audio and data on 4 (rtmpproto.c). */
export const PUBLISH_CSID = { video: 6, other: 4 } as const;
export const PUBLISH_STREAM_ID = 1;

/**
 * The socket reads a server gets for a mix published at `chunkSize`
 * (headers compressed per chunk stream, as encoders do), cut every
 * `readBytes` (Node hands an accepted socket's data over in fresh Buffers of
 * up to 64 KiB; a 2 Mbit/s publisher's arrive smaller).
 */
export function publishReads(mix: readonly MediaMessage[], chunkSize: number, readBytes = 16 * 1024): Buffer[] {
  const w = new ChunkWriter(chunkSize);
  const wire = Buffer.concat(
    mix.map((m) =>
      w.encode(
        {
          csid: m.type === TagType.Video ? PUBLISH_CSID.video : PUBLISH_CSID.other,
          type: m.type,
          timestamp: m.timestamp,
          length: m.body.length,
          streamId: PUBLISH_STREAM_ID,
        },
        m.body,
      ),
    ),
  );
  const reads: Buffer[] = [];
  // Copies, not views: each read is its own Buffer, as a socket's are.
  for (let p = 0; p < wire.length; p += readBytes) reads.push(Buffer.from(wire.subarray(p, p + readBytes)));
  return reads;
}

/** The server's default ring (`media.ringBytes`). */
export const RING_BYTES = 16 * 1024 * 1024;

/** A stream with a local publisher over a fresh slab, as a publishing session has it. */
export function publishingStream(ringBytes = RING_BYTES): LiveStream {
  const sab = new SharedArrayBuffer(ringBytes);
  StreamSlab.format(sab);
  const stream = new LiveStream('live', 'bench', 1, sab, { maxTimestampJumpMs: 10_000, mergeWindowMs: () => 0 });
  stream.startPublishing(1);
  return stream;
}

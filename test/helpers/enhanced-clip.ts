/**
 * Real HEVC and AV1 bitstreams in enhanced RTMP framing. The bundled ffmpeg
 * (4.1) encodes them (libx265, libaom-av1) but cannot publish them over
 * E-RTMP, so a clip is encoded into MP4 and its samples are wrapped here
 * in ExVideoTagHeaders (veovera E-RTMP v1):
 *
 *   90 68766331 <hvcC>            key | SequenceStart, 'hvc1'
 *   91 68766331 000050 <NALUs>    key | CodedFrames, SI24 CompositionTime 80 ms
 *   a3 68766331 <NALUs>           inter | CodedFramesX (CompositionTime 0)
 *   91 61763031 <OBUs>            key | CodedFrames, 'av01' (no CompositionTime field)
 *   92 68766331                   SequenceEnd
 *
 * and, back from what a player received, into an elementary stream ffmpeg
 * decodes (Annex B for HEVC, IVF for AV1) to prove the delivered frames
 * decode from the GOP start they were given.
 */
import { writeFileSync } from 'node:fs';
import { parseHevcDecoderConfig } from '../../src/protocol/hevc.js';
import { runFfmpeg, tmpFile } from './ffmpeg.js';
import { readMp4Video, type Mp4VideoTrack } from './mp4-samples.js';

export type EnhancedCodec = 'hevc' | 'av1';

export interface EnhancedFrame {
  ts: number;
  key: boolean;
  data: Buffer;
}

export interface EnhancedClip {
  codec: EnhancedCodec;
  fps: number;
  gop: number;
  file: string;
  track: Mp4VideoTrack;
  /** onMetaData as an E-RTMP encoder sends it: videocodecid is the FourCC as a number. */
  meta: Record<string, number>;
  sequenceStart: Buffer;
  frames: EnhancedFrame[];
  sequenceEnd: Buffer;
}

const FOURCC = { hevc: 'hvc1', av1: 'av01' } as const;
const PACKET = { SequenceStart: 0, CodedFrames: 1, SequenceEnd: 2, CodedFramesX: 3 } as const;
const FRAME = { Key: 1, Inter: 2 } as const;

function exHeader(frameType: number, packetType: number, codec: EnhancedCodec): Buffer {
  return Buffer.concat([Buffer.from([0x80 | (frameType << 4) | packetType]), Buffer.from(FOURCC[codec], 'latin1')]);
}

function frameTag(codec: EnhancedCodec, key: boolean, cts: number, sample: Buffer): Buffer {
  const ft = key ? FRAME.Key : FRAME.Inter;
  // HEVC: CodedFrames carries SI24 CompositionTime; CodedFramesX says it is 0. AV1 has no such field.
  if (codec === 'av1') return Buffer.concat([exHeader(ft, PACKET.CodedFrames, codec), sample]);
  if (cts === 0) return Buffer.concat([exHeader(ft, PACKET.CodedFramesX, codec), sample]);
  const si24 = Buffer.alloc(3);
  si24.writeIntBE(cts, 0, 3);
  return Buffer.concat([exHeader(ft, PACKET.CodedFrames, codec), si24, sample]);
}

const ENCODER: Record<EnhancedCodec, (gop: number) => string[]> = {
  // Closed GOPs (IDR keyframes): a player started at a keyframe decodes every frame from it.
  hevc: (gop) => ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', `keyint=${gop}:min-keyint=${gop}:scenecut=0:open-gop=0:bframes=2:log-level=error`, '-tag:v', 'hvc1'],
  av1: (gop) => ['-c:v', 'libaom-av1', '-strict', 'experimental', '-cpu-used', '8', '-b:v', '200k', '-g', String(gop), '-keyint_min', String(gop)],
};

const clips = new Map<string, Promise<EnhancedClip>>();

/** Encodes (once per process per parameter set) `seconds` of 160x120 testsrc and frames it as E-RTMP. */
export function enhancedClip(codec: EnhancedCodec, seconds: number, fps = 25, gop = fps): Promise<EnhancedClip> {
  const id = `${codec}-${seconds}s-${fps}fps-g${gop}`;
  let clip = clips.get(id);
  if (!clip) {
    clip = (async () => {
      const file = tmpFile(`enhanced-${id}.mp4`);
      await runFfmpeg(
        ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=160x120:rate=${fps}`, '-t', String(seconds), ...ENCODER[codec](gop), '-pix_fmt', 'yuv420p', '-f', 'mp4', file],
        120_000,
      );
      const track = readMp4Video(file);
      const frames = track.samples.map((s) => ({ ts: s.dts, key: s.key, data: frameTag(codec, s.key, s.cts, s.data) }));
      const fourCC = Buffer.from(FOURCC[codec], 'latin1').readUInt32BE(0);
      return {
        codec, fps, gop, file, track,
        meta: { width: 160, height: 120, framerate: fps, videocodecid: fourCC, videodatarate: 200 },
        sequenceStart: Buffer.concat([exHeader(FRAME.Key, PACKET.SequenceStart, codec), track.config]),
        frames,
        sequenceEnd: exHeader(FRAME.Key, PACKET.SequenceEnd, codec),
      };
    })();
    clips.set(id, clip);
  }
  return clip;
}

/** The codec data of a CodedFrames(X) tag body (after FourCC and, for HEVC CodedFrames, CompositionTime). */
function sampleOf(codec: EnhancedCodec, tag: Buffer): Buffer {
  const packet = tag[0]! & 0x0f;
  return tag.subarray(codec === 'hevc' && packet === PACKET.CodedFrames ? 8 : 5);
}

/** HEVC length-prefixed NAL units -> Annex B, parameter sets from the record first. */
function annexB(config: Buffer, samples: Buffer[]): Buffer {
  const rec = parseHevcDecoderConfig(config);
  const start = Buffer.from([0, 0, 0, 1]);
  const out: Buffer[] = [...rec.vps, ...rec.sps, ...rec.pps].flatMap((nal) => [start, Buffer.from(nal)]);
  for (const s of samples) {
    for (let pos = 0; pos < s.length; ) {
      const n = s.readUIntBE(pos, rec.nalLengthSize);
      pos += rec.nalLengthSize;
      out.push(start, s.subarray(pos, pos + n));
      pos += n;
    }
  }
  return Buffer.concat(out);
}

/** AV1 temporal units -> IVF; the record's configOBUs (sequence header) lead the first frame. */
function ivf(config: Buffer, samples: Buffer[], fps: number): Buffer {
  const head = Buffer.alloc(32);
  head.write('DKIF', 0, 'latin1');
  head.writeUInt16LE(0, 4);
  head.writeUInt16LE(32, 6);
  head.write('AV01', 8, 'latin1');
  head.writeUInt16LE(160, 12);
  head.writeUInt16LE(120, 14);
  head.writeUInt32LE(fps, 16);
  head.writeUInt32LE(1, 20);
  head.writeUInt32LE(samples.length, 24);
  const out: Buffer[] = [head];
  samples.forEach((s, i) => {
    const body = i === 0 ? Buffer.concat([config.subarray(4), s]) : s;
    const fh = Buffer.alloc(12);
    fh.writeUInt32LE(body.length, 0);
    fh.writeBigUInt64LE(BigInt(i), 4);
    out.push(fh, body);
  });
  return Buffer.concat(out);
}

/** md5 of each decoded picture (ffmpeg framemd5, decoded, not copied). */
async function decodedPictures(file: string, format: string): Promise<string[]> {
  const out = await runFfmpeg(['-loglevel', 'error', '-f', format, '-i', file, '-f', 'framemd5', 'pipe:1'], 60_000);
  return out.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').pop()!.trim());
}

/** The clip's own pictures, decoded from the MP4. */
export function clipPictures(clip: EnhancedClip): Promise<string[]> {
  return decodedPictures(clip.file, 'mp4');
}

/** Decodes the CodedFrames tag bodies a player received (with the sequence start it received). */
export async function receivedPictures(clip: EnhancedClip, sequenceStart: Buffer, frameTags: Buffer[], what: string): Promise<string[]> {
  const config = sequenceStart.subarray(5);
  const samples = frameTags.map((t) => sampleOf(clip.codec, t));
  const file = tmpFile(`received-${clip.codec}-${what.replace(/\W+/g, '-')}.${clip.codec === 'hevc' ? 'hevc' : 'ivf'}`);
  writeFileSync(file, clip.codec === 'hevc' ? annexB(config, samples) : ivf(config, samples, clip.fps));
  return decodedPictures(file, clip.codec === 'hevc' ? 'hevc' : 'ivf');
}

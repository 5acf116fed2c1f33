/**
 * Synthetic media shaped like an encoder's output: real H.264 SPS/PPS
 * (x264, Main 3.1, 1280x720, 25 fps) and an AAC-LC AudioSpecificConfig,
 * onMetaData, then frames sized to the bitrate. Each frame carries a marker
 * (marker.ts); the rest is filler. Nothing is decodable past the headers,
 * and no server in the path needs it to be.
 *
 *   video  17|27 01 000000  [SEI marker NALU, 48 bytes]  [len] 65|41 filler...   key IDR | inter non-IDR slice
 *   audio  af 01            marker (40 bytes) filler...                           AAC raw frame
 */
import { buildAvcSequenceHeader } from '../src/protocol/avc.js';
import { buildAacSequenceHeader, buildAudioSpecificConfig } from '../src/protocol/aac.js';
import { encodeAmf0 } from '../src/protocol/amf0.js';
import { ecmaArray } from '../src/protocol/amf-types.js';
import { MARKER_SIZE, MarkerKind, writeMarker } from './marker.js';
import { FrameSchedule } from './schedule.js';
import type { LoadtestOptions } from './options.js';
import { SEI_MARKER_SIZE, setDataFrame, writeSeiMarker, type MediaSource, type OutMessage } from './media-source.js';

/** From `ffmpeg -f lavfi -i testsrc=size=1280x720:rate=25 -c:v libx264 -profile:v main`. */
export const SPS = Buffer.from('674d401feca02802dd80880000030008000003019078c18cb0', 'hex');
export const PPS = Buffer.from('68ef8fc8', 'hex');
export const WIDTH = 1280;
export const HEIGHT = 720;

export const AUDIO_SAMPLE_RATE = 44100;
/** Samples per AAC-LC frame. */
export const AAC_FRAME_SAMPLES = 1024;
export const AUDIO_BITRATE_KBPS = 128;

/** A keyframe weighs this many inter frames (when the GOP has inter frames). */
const KEY_WEIGHT = 6;
/** Video header (5) + SEI marker NALU + slice NALU length (4) and header (1). */
const VIDEO_OVERHEAD = 5 + SEI_MARKER_SIZE + 5;
const AUDIO_OVERHEAD = 2 + MARKER_SIZE;

export type SyntheticSpec = Pick<LoadtestOptions, 'bitrateKbps' | 'fps' | 'gop' | 'audio'> & {
  /** Publisher index, written into every marker. */
  stream: number;
};

/** Payload bytes of key and inter frames so that one GOP carries bitrate * gop / fps. */
export function videoFrameSizes(bitrateKbps: number, fps: number, gop: number): { key: number; inter: number } {
  const gopBytes = ((bitrateKbps * 1000) / 8) * (gop / fps);
  if (gop === 1) {
    const key = Math.max(VIDEO_OVERHEAD + 1, Math.round(gopBytes));
    return { key, inter: key };
  }
  const inter = Math.max(VIDEO_OVERHEAD + 1, Math.round(gopBytes / (gop - 1 + KEY_WEIGHT)));
  return { key: Math.max(VIDEO_OVERHEAD + 1, Math.round(gopBytes - inter * (gop - 1))), inter };
}

export function audioFrameSize(): number {
  const fps = AUDIO_SAMPLE_RATE / AAC_FRAME_SAMPLES;
  return Math.max(AUDIO_OVERHEAD + 1, Math.round((AUDIO_BITRATE_KBPS * 1000) / 8 / fps));
}

/** Deterministic noise, so filler looks like entropy-coded bytes (never long runs a transport could shrink). */
function fillNoise(dst: Uint8Array, from: number, seed: number): void {
  let x = seed | 1;
  for (let i = from; i < dst.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    dst[i] = x & 0xff;
  }
}

function videoTemplate(size: number, key: boolean): Buffer {
  const b = Buffer.alloc(size);
  b[0] = key ? 0x17 : 0x27; // FrameType 1 key / 2 inter | CodecID 7 (AVC)
  b[1] = 0x01; // AVCPacketType 1: NALUs; CompositionTime 0
  const slice = 5 + SEI_MARKER_SIZE;
  b.writeUInt32BE(size - slice - 4, slice);
  b[slice + 4] = key ? 0x65 : 0x41; // nal_ref_idc 3 | type 5 (IDR) ; nal_ref_idc 2 | type 1 (non-IDR)
  fillNoise(b, slice + 5, size);
  return b;
}

function audioTemplate(size: number): Buffer {
  const b = Buffer.alloc(size);
  b[0] = 0xaf; // SoundFormat 10 (AAC) | 44 kHz | 16-bit | stereo
  b[1] = 0x01; // AACPacketType 1: raw
  fillNoise(b, AUDIO_OVERHEAD, size * 7);
  return b;
}

export function syntheticMetadata(spec: SyntheticSpec): Buffer {
  return encodeAmf0([
    'onMetaData',
    ecmaArray({
      duration: 0,
      width: WIDTH,
      height: HEIGHT,
      videodatarate: spec.bitrateKbps,
      framerate: spec.fps,
      videocodecid: 7,
      ...(spec.audio ? { audiodatarate: AUDIO_BITRATE_KBPS, audiosamplerate: AUDIO_SAMPLE_RATE, audiosamplesize: 16, stereo: true, audiocodecid: 10 } : {}),
      encoder: 'sluice-loadtest',
    }),
  ]);
}

/** Video at `fps` with a keyframe every `gop` frames, and AAC at 44.1 kHz when `audio`. */
export class SyntheticSource implements MediaSource {
  readonly headers: readonly OutMessage[];
  private readonly video: FrameSchedule;
  private readonly audio: FrameSchedule | undefined;
  private readonly key: Buffer;
  private readonly inter: Buffer;
  private readonly aac: Buffer;
  private videoSeq = 0;
  private audioSeq = 0;

  constructor(private readonly spec: SyntheticSpec) {
    this.video = new FrameSchedule(spec.fps);
    this.audio = spec.audio ? new FrameSchedule(AUDIO_SAMPLE_RATE / AAC_FRAME_SAMPLES) : undefined;
    const sizes = videoFrameSizes(spec.bitrateKbps, spec.fps, spec.gop);
    this.key = videoTemplate(sizes.key, true);
    this.inter = videoTemplate(sizes.inter, false);
    this.aac = audioTemplate(audioFrameSize());
    const headers: OutMessage[] = [
      { type: 18, timestamp: 0, payload: setDataFrame(syntheticMetadata(spec)) },
      { type: 9, timestamp: 0, payload: buildAvcSequenceHeader([SPS], [PPS]) },
    ];
    if (spec.audio) {
      const asc = buildAudioSpecificConfig({ objectType: 2, sampleRate: AUDIO_SAMPLE_RATE, channelConfig: 2 });
      headers.push({ type: 8, timestamp: 0, payload: buildAacSequenceHeader(asc) });
    }
    this.headers = headers;
  }

  private audioNext(): boolean {
    return this.audio !== undefined && this.audio.dueAt(this.audioSeq) < this.video.dueAt(this.videoSeq);
  }

  nextOffsetMs(): number {
    return this.audioNext() ? this.audio!.dueAt(this.audioSeq) : this.video.dueAt(this.videoSeq);
  }

  take(scheduledMs: number): OutMessage {
    const stream = this.spec.stream;
    if (this.audioNext()) {
      const seq = this.audioSeq++;
      writeMarker(this.aac, 2, { kind: MarkerKind.Audio, stream, seq, scheduledMs });
      return { type: 8, timestamp: Math.round(this.audio!.dueAt(seq)), payload: this.aac };
    }
    const seq = this.videoSeq++;
    const frame = seq % this.spec.gop === 0 ? this.key : this.inter;
    writeSeiMarker(frame, 5, { kind: MarkerKind.Video, stream, seq, scheduledMs });
    return { type: 9, timestamp: Math.round(this.video.dueAt(seq)), payload: frame };
  }
}

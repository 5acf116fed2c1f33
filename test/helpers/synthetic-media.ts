/**
 * Synthetic media for server tests: fixed sequence headers and frames that
 * carry a counter (u32be), so order, gaps and byte identity can be checked
 * exactly at a player:
 *
 *   video  17|27  01  000000  nnnnnnnn  fill...   FrameType 1 key / 2 inter | CodecID 7, AVCPacketType 1 (NALUs), CTS 0
 *   audio  af     01          nnnnnnnn  fill...   AAC 44 kHz 16-bit stereo, AACPacketType 1 (raw)
 *
 * The fill byte is the counter's low byte (audio: plus 0x80).
 */
import type { AmfValue } from '../../src/protocol/amf-types.js';

/** AVC sequence header: FrameType 1 | CodecID 7, AVCPacketType 0, CTS 0, then an AVCDecoderConfigurationRecord. */
export const AVC_SEQUENCE_HEADER = Buffer.from([
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
export const AAC_SEQUENCE_HEADER = Buffer.from([0xaf, 0x00, 0x12, 0x10]);

/** "@setDataFrame" as AMF0: marker 02, length 000d, 13 bytes. The server strips exactly these 16. */
export const SET_DATA_FRAME_BYTES = 16;

/** onMetaData of an audio + video source. */
export const META: Record<string, AmfValue> = {
  width: 320,
  height: 240,
  framerate: 25,
  videocodecid: 7,
  audiocodecid: 10,
  encoder: 'sluice-test',
};

/** onMetaData of a video-only source (no audiocodecid). */
export const VIDEO_ONLY_META: Record<string, AmfValue> = {
  width: 320,
  height: 240,
  framerate: 25,
  videocodecid: 7,
  encoder: 'sluice-test',
};

/** Video frame `n` of `size` bytes (at least 9): header, counter, fill. */
export function videoFrame(n: number, key: boolean, size: number): Buffer {
  const b = Buffer.alloc(Math.max(size, 9), n & 0xff);
  b[0] = key ? 0x17 : 0x27;
  b[1] = 0x01;
  b[2] = b[3] = b[4] = 0;
  b.writeUInt32BE(n >>> 0, 5);
  return b;
}

/** Audio frame `n` of `size` bytes (at least 6): header, counter, fill. */
export function audioFrame(n: number, size: number): Buffer {
  const b = Buffer.alloc(Math.max(size, 6), (n + 0x80) & 0xff);
  b[0] = 0xaf;
  b[1] = 0x01;
  b.writeUInt32BE(n >>> 0, 2);
  return b;
}

/** The frame counter of a media tag; -1 for sequence headers and script tags. */
export function counterOf(t: { type: number; data: Buffer }): number {
  if (t.type === 9 && t.data[1] === 1 && t.data.length >= 9) return t.data.readUInt32BE(5);
  if (t.type === 8 && t.data[1] === 1 && t.data.length >= 6) return t.data.readUInt32BE(2);
  return -1;
}

/** A video keyframe carrying NALUs (not a sequence header). */
export const isKey = (t: { type: number; data: Buffer }): boolean => t.type === 9 && t.data[0]! >> 4 === 1 && t.data[1] === 1;

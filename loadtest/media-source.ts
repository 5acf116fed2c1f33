/**
 * What a publisher sends: a source of RTMP media messages in schedule
 * order (synthetic-media.ts, file-source.ts), and how a marker rides in
 * an H.264 frame.
 *
 * In video the marker travels as an SEI NALU, user_data_unregistered
 * (H.264 D.1.6), whose 16-byte uuid is the marker's magic — decoders skip
 * it, and servers pass it on untouched like any other NALU:
 *
 *   00000030   NALU length 48 (4 bytes, lengthSizeMinusOne 3)
 *   06         nal_unit_type 6 (SEI)
 *   05         payloadType 5 (user_data_unregistered)
 *   28         payloadSize 40
 *   ...        the 40-byte marker (uuid = MARKER_MAGIC, then its fields)
 *   80         rbsp_trailing_bits
 */
import { MARKER_SIZE, writeMarker, type Marker } from './marker.js';
import { encodeAmf0 } from '../src/protocol/amf0.js';
import { inspectVideo } from '../src/protocol/video-tag.js';

/** One RTMP media message: audio 8, video 9, data 18. */
export interface OutMessage {
  type: 8 | 9 | 18;
  /** RTMP timestamp, ms from the stream's start. */
  timestamp: number;
  /** Valid until the source's next take(): sources reuse their buffers. */
  payload: Uint8Array;
}

export interface MediaSource {
  /** Sent once right after publish: @setDataFrame onMetaData, then the sequence headers. */
  readonly headers: readonly OutMessage[];
  /** Offset (ms from the stream's start) the next message is due at. */
  nextOffsetMs(): number;
  /** The next message, with its marker stamped for `scheduledMs` (wall clock). */
  take(scheduledMs: number): OutMessage;
}

/** Bytes the SEI marker NALU takes in an AVC NALU payload, length prefix included. */
export const SEI_MARKER_SIZE = 4 + 3 + MARKER_SIZE + 1;

/** Writes the length-prefixed SEI NALU carrying `m` at dst[off]; returns the offset after it. */
export function writeSeiMarker(dst: Uint8Array, off: number, m: Marker): number {
  new DataView(dst.buffer, dst.byteOffset + off, 4).setUint32(0, SEI_MARKER_SIZE - 4);
  dst[off + 4] = 0x06;
  dst[off + 5] = 0x05;
  dst[off + 6] = MARKER_SIZE;
  const end = writeMarker(dst, off + 7, m);
  dst[end] = 0x80;
  return end + 1;
}

/** The data message encoders send: "@setDataFrame" before the onMetaData AMF0 bytes. */
export function setDataFrame(onMetaData: Uint8Array): Buffer {
  return Buffer.concat([encodeAmf0(['@setDataFrame']), onMetaData]);
}

// ---- what a tag body is (FLV / RTMP audio and video payloads) ----------------

/** A video sequence header: legacy AVC (7) / HEVC (12) with AVCPacketType 0, or Enhanced RTMP SequenceStart. */
export function isVideoSequenceHeader(d: Uint8Array): boolean {
  if (d.length < 2) return false;
  // Enhanced RTMP: IsExHeader bit set, PacketType (low nibble) 0 = SequenceStart.
  if (d[0]! & 0x80) return (d[0]! & 0x0f) === 0;
  const codec = d[0]! & 0x0f;
  return (codec === 7 || codec === 12) && d[1] === 0;
}

/**
 * A key frame's picture: coded frames with FrameType 1, legacy (`17 01`)
 * or enhanced (`91`/`93` + FourCC). The sequence header (`17 00`) is also
 * FrameType 1 but holds no picture, so it is not one; nor is a body too
 * short or malformed to parse.
 */
export function isVideoKeyframe(d: Uint8Array): boolean {
  try {
    return inspectVideo(d).key;
  } catch {
    return false;
  }
}

/** Legacy AVC / HEVC with AVCPacketType 2 (end of sequence). */
export function isVideoEndOfSequence(d: Uint8Array): boolean {
  if (d.length < 2 || d[0]! & 0x80) return false;
  const codec = d[0]! & 0x0f;
  return (codec === 7 || codec === 12) && d[1] === 2;
}

/** SoundFormat 10 (AAC), AACPacketType 0. */
export function isAacSequenceHeader(d: Uint8Array): boolean {
  return d.length >= 2 && d[0]! >> 4 === 10 && d[1] === 0;
}

/** Legacy AVC video with AVCPacketType 1: length-prefixed NALUs follow the 5-byte header. */
export function isAvcNalus(d: Uint8Array): boolean {
  return d.length > 5 && !(d[0]! & 0x80) && (d[0]! & 0x0f) === 7 && d[1] === 1;
}

/** An AMF0 data message starting with the string "onMetaData" (02 000a "onMetaData"), after any "@setDataFrame". */
export function isOnMetaData(d: Uint8Array): boolean {
  const head = Buffer.from(d.buffer, d.byteOffset, Math.min(d.length, 40));
  return head.includes('\x02\x00\x0aonMetaData', 0, 'latin1');
}

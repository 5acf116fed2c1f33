import { ByteReader } from '../core/bytes.js';
import { SluiceError } from '../core/errors.js';
import { AvMultitrackType, MOD_EX_PACKET_TYPE, fourCCText, readModEx } from './enhanced-rtmp.js';
import type { VideoCodec, VideoInfo, VideoPacketKind } from './types.js';

/**
 * The header of an RTMP video message body / FLV video tag data, in both
 * framings:
 *
 * Legacy (FLV spec v10.1 E.4.3.1, VideoTagHeader):
 *   17 00 000000   FrameType 1 (key) | CodecID 7 (AVC), AVCPacketType 0, SI24 CompositionTime
 *   Codec 12 is HEVC with the same layout: the extension Chinese CDNs
 *   (and SRS, nginx-http-flv, OBS forks) shipped before enhanced RTMP.
 *
 * Enhanced RTMP (veovera E-RTMP v1/v2, ExVideoTagHeader):
 *   90 68766331    IsExHeader | FrameType 1 | VideoPacketType 0 (SequenceStart), FourCC 'hvc1'
 *   bit 0x80 of the first byte switches the low nibble from CodecID to
 *   VideoPacketType and adds a FourCC.
 */

/** FrameType (3 bits enhanced, 4 bits legacy). */
export const FrameType = { Key: 1, Inter: 2, DisposableInter: 3, GeneratedKey: 4, Command: 5 } as const;

/** Legacy CodecID (low nibble). */
export const VideoCodecId = { H263: 2, Screen: 3, Vp6: 4, Vp6Alpha: 5, ScreenV2: 6, Avc: 7, Hevc: 12 } as const;

/** AVCPacketType (legacy AVC/HEVC). */
export const AvcPacketType = { SequenceHeader: 0, Nalu: 1, EndOfSequence: 2 } as const;

/** E-RTMP VideoPacketType (low nibble when IsExHeader). */
export const VideoPacketType = {
  SequenceStart: 0,
  CodedFrames: 1,
  SequenceEnd: 2,
  CodedFramesX: 3,
  Metadata: 4,
  Mpeg2TsSequenceStart: 5,
  Multitrack: 6,
  ModEx: MOD_EX_PACKET_TYPE,
} as const;

/** E-RTMP VideoFourCc, as the big-endian UI32 on the wire. */
export const VideoFourCC = {
  avc1: 0x61766331,
  hvc1: 0x68766331,
  av01: 0x61763031,
  vp09: 0x76703039,
  vp08: 0x76703038,
} as const;

const FOURCC_CODEC = new Map<number, VideoCodec>([
  [VideoFourCC.avc1, 'avc'],
  [VideoFourCC.hvc1, 'hevc'],
  [VideoFourCC.av01, 'av1'],
  [VideoFourCC.vp09, 'vp9'],
  [VideoFourCC.vp08, 'vp8'],
]);

const LEGACY_CODEC: Record<number, VideoCodec> = {
  [VideoCodecId.H263]: 'h263',
  [VideoCodecId.Screen]: 'screen',
  [VideoCodecId.Vp6]: 'vp6',
  [VideoCodecId.Vp6Alpha]: 'vp6',
  [VideoCodecId.ScreenV2]: 'screen',
  [VideoCodecId.Avc]: 'avc',
  [VideoCodecId.Hevc]: 'hevc',
};

/** Everything the header says, for code that needs more than VideoInfo. */
export interface VideoTagHeader {
  codec: VideoCodec;
  /** FourCC text ('hvc1') of enhanced tags; undefined for legacy ones. */
  fourCC?: string;
  frameType: number;
  packet: VideoPacketKind;
  enhanced: boolean;
  /** CompositionTime (ms, signed); 0 where the format has none. */
  cts: number;
  /** VideoCommand (0 StartSeek, 1 EndSeek) when packet is 'command'. */
  command?: number;
  /** E-RTMP ModEx TimestampOffsetNano (0..999999 ns), 0 when absent. */
  timestampOffsetNano: number;
  /** Multitrack messages: AvMultitrackType and the first track's id. */
  multitrack?: { type: number; trackId: number };
  /** Offset in the payload where the codec data starts (record, NALUs, OBUs, AMF). */
  dataOffset: number;
  /** End of that data: the payload end, or the first track's end in a many-track message. */
  dataEnd: number;
}

function legacyHeader(r: ByteReader, b0: number): VideoTagHeader {
  const frameType = b0 >>> 4;
  const codecId = b0 & 0x0f;
  if (frameType < FrameType.Key || frameType > FrameType.Command) {
    throw new SluiceError('ERR_CODEC', `video tag: reserved FrameType ${frameType}`);
  }
  // Unassigned CodecIDs are forwarded as 'unknown' (data from byte 1), not refused.
  const codec = LEGACY_CODEC[codecId] ?? 'unknown';
  const h: VideoTagHeader = {
    codec, frameType, packet: 'coded-frames', enhanced: false, cts: 0, timestampOffsetNano: 0,
    dataOffset: 1, dataEnd: r.end,
  };
  if (frameType === FrameType.Command) {
    // Video info/command frame: `57 01` = AVC, EndSeek. E-RTMP v2 reads the
    // UI8 right after the first byte, for every codec; no picture follows.
    h.packet = 'command';
    h.command = r.u8('video tag: VideoCommand');
  } else if (codecId === VideoCodecId.Avc || codecId === VideoCodecId.Hevc) {
    const pt = r.u8('video tag: AVCPacketType');
    if (pt === AvcPacketType.SequenceHeader) h.packet = 'sequence-start';
    else if (pt === AvcPacketType.EndOfSequence) h.packet = 'sequence-end';
    else if (pt !== AvcPacketType.Nalu) throw new SluiceError('ERR_CODEC', `video tag: unknown AVCPacketType ${pt}`);
    h.cts = r.i24be('video tag: CompositionTime');
  }
  h.dataOffset = r.pos;
  return h;
}

function enhancedHeader(r: ByteReader, b0: number): VideoTagHeader {
  const frameType = (b0 >>> 4) & 0x07;
  const mod = readModEx(r, b0 & 0x0f);
  let packetType = mod.packetType;
  const h: VideoTagHeader = {
    codec: 'unknown', frameType, packet: 'coded-frames', enhanced: true, cts: 0,
    timestampOffsetNano: mod.nano, dataOffset: 0, dataEnd: r.end,
  };
  if (packetType !== VideoPacketType.Metadata && frameType === FrameType.Command) {
    // `d1 01`: command frames carry a VideoCommand and no FourCC or body.
    h.packet = 'command';
    h.command = r.u8('video tag: VideoCommand');
    h.dataOffset = r.pos;
    return h;
  }
  let fourCC = 0;
  if (packetType === VideoPacketType.Multitrack) {
    // `96 00 61763031 00 ...`: Multitrack, OneTrack | SequenceStart, FourCC 'av01', trackId 0.
    // All tracks share FrameType and VideoPacketType; codec, cts and the
    // data range reported are the first track's. The rest are left as-is
    // for whoever forwards the whole message.
    const b = r.u8('video tag: AvMultitrackType | VideoPacketType');
    const mtType = b >>> 4;
    packetType = b & 0x0f;
    if (mtType > AvMultitrackType.ManyTracksManyCodecs) {
      throw new SluiceError('ERR_CODEC', `video tag: reserved AvMultitrackType ${mtType}`);
    }
    if (packetType === VideoPacketType.Multitrack || packetType === VideoPacketType.ModEx) {
      throw new SluiceError('ERR_CODEC', `video tag: VideoPacketType ${packetType} inside Multitrack`);
    }
    // The shared FourCC (OneTrack, ManyTracks) ends the header; with
    // ManyTracksManyCodecs each track starts with its own. Either way the
    // first track's FourCC is the next UI32, then its videoTrackId.
    fourCC = r.u32be('video tag: FourCC');
    const trackId = r.u8('video tag: videoTrackId');
    if (mtType !== AvMultitrackType.OneTrack) {
      const size = r.u24be('video tag: sizeOfVideoTrack');
      r.need(size, 'video tag: first track');
      h.dataEnd = r.pos + size;
    }
    h.multitrack = { type: mtType, trackId };
  } else {
    fourCC = r.u32be('video tag: FourCC');
  }
  h.fourCC = fourCCText(fourCC);
  h.codec = FOURCC_CODEC.get(fourCC) ?? 'unknown';
  switch (packetType) {
    case VideoPacketType.SequenceStart: h.packet = 'sequence-start'; break;
    case VideoPacketType.SequenceEnd: h.packet = 'sequence-end'; break;
    case VideoPacketType.Metadata: h.packet = 'metadata'; break;
    case VideoPacketType.Mpeg2TsSequenceStart: h.packet = 'mpeg2ts-sequence-start'; break;
    case VideoPacketType.CodedFramesX: break; // CompositionTime implied 0
    case VideoPacketType.CodedFrames:
      // Only AVC and HEVC carry SI24 CompositionTime here; AV1/VP9/VP8 have no B-frame reordering field.
      if (fourCC === VideoFourCC.avc1 || fourCC === VideoFourCC.hvc1) h.cts = r.i24be('video tag: CompositionTime');
      break;
    default:
      throw new SluiceError('ERR_CODEC', `video tag: reserved VideoPacketType ${packetType}`);
  }
  // FrameType is ignored for Metadata; elsewhere 0, 6 and 7 are reserved.
  if (packetType !== VideoPacketType.Metadata && (frameType < FrameType.Key || frameType > FrameType.Command)) {
    throw new SluiceError('ERR_CODEC', `video tag: reserved FrameType ${frameType}`);
  }
  h.dataOffset = r.pos;
  if (h.dataOffset > h.dataEnd) throw new SluiceError('ERR_CODEC', 'video tag: first track shorter than its header');
  return h;
}

/** Parses the (Ex)VideoTagHeader. Empty or truncated headers throw ERR_CODEC. */
export function parseVideoTagHeader(payload: Uint8Array): VideoTagHeader {
  if (payload.length === 0) throw new SluiceError('ERR_CODEC', 'video tag: empty payload');
  const r = new ByteReader(payload, 0, payload.length, 'ERR_CODEC');
  const b0 = r.u8();
  return b0 & 0x80 ? enhancedHeader(r, b0) : legacyHeader(r, b0);
}

/** Offset in the payload where codec data begins (after all header fields). */
export function videoDataOffset(payload: Uint8Array): number {
  return parseVideoTagHeader(payload).dataOffset;
}

/**
 * What the live layer needs about one video message. `key` is set only for
 * coded frames with FrameType 1: the sequence header (`17 00`) is sent as a
 * key frame too but holds no picture, so it is flagged as sequenceHeader
 * instead. MPEG2TSSequenceStart counts as a sequence header (it is the
 * decoder configuration, in TS descriptor form).
 */
export function inspectVideo(payload: Uint8Array): VideoInfo {
  const h = parseVideoTagHeader(payload);
  return {
    kind: 'video',
    codec: h.codec,
    key: h.frameType === FrameType.Key && h.packet === 'coded-frames',
    sequenceHeader: h.packet === 'sequence-start' || h.packet === 'mpeg2ts-sequence-start',
    sequenceEnd: h.packet === 'sequence-end',
    cts: h.cts,
    enhanced: h.enhanced,
    packet: h.packet,
  };
}

import { ByteReader } from '../core/bytes.js';
import { SluiceError } from '../core/errors.js';
import { AvMultitrackType, MOD_EX_PACKET_TYPE, fourCCText, readModEx } from './enhanced-rtmp.js';
import type { AudioCodec, AudioInfo, AudioPacketKind } from './types.js';

/**
 * The header of an RTMP audio message body / FLV audio tag data.
 *
 * Legacy (FLV spec v10.1 E.4.2.1, AudioTagHeader), one byte of bit fields:
 *   af 00   SoundFormat 10 (AAC) | SoundRate 3 (44 kHz) | SoundSize 1 (16 bit) | SoundType 1 (stereo),
 *           AACPacketType 0 (AudioSpecificConfig follows)
 *
 * Enhanced RTMP (veovera E-RTMP v2, ExAudioTagHeader): SoundFormat 9
 * (ExHeader) turns the low nibble into AudioPacketType and adds a FourCC:
 *   90 4f707573   ExHeader | AudioPacketType 0 (SequenceStart), FourCC 'Opus'
 */

/** Legacy SoundFormat (high nibble). */
export const SoundFormat = {
  PcmPlatformEndian: 0,
  Adpcm: 1,
  Mp3: 2,
  PcmLittleEndian: 3,
  Nellymoser16kMono: 4,
  Nellymoser8kMono: 5,
  Nellymoser: 6,
  G711ALaw: 7,
  G711MuLaw: 8,
  ExHeader: 9,
  Aac: 10,
  Speex: 11,
  Mp3_8k: 14,
  DeviceSpecific: 15,
} as const;

/** AACPacketType (legacy AAC). */
export const AacPacketType = { SequenceHeader: 0, Raw: 1 } as const;

/** E-RTMP AudioPacketType (low nibble when SoundFormat is ExHeader). */
export const AudioPacketType = {
  SequenceStart: 0,
  CodedFrames: 1,
  SequenceEnd: 2,
  MultichannelConfig: 4,
  Multitrack: 5,
  ModEx: MOD_EX_PACKET_TYPE,
} as const;

/** E-RTMP AudioFourCc, as the big-endian UI32 on the wire. */
export const AudioFourCC = {
  Opus: 0x4f707573,
  fLaC: 0x664c6143,
  mp4a: 0x6d703461,
  'ac-3': 0x61632d33,
  'ec-3': 0x65632d33,
  '.mp3': 0x2e6d7033,
} as const;

const FOURCC_CODEC = new Map<number, AudioCodec>([
  [AudioFourCC.Opus, 'opus'],
  [AudioFourCC.fLaC, 'flac'],
  [AudioFourCC.mp4a, 'aac'],
  [AudioFourCC['ac-3'], 'ac3'],
  [AudioFourCC['ec-3'], 'eac3'],
  [AudioFourCC['.mp3'], 'mp3'],
]);

const LEGACY_CODEC: Record<number, AudioCodec> = {
  [SoundFormat.PcmPlatformEndian]: 'pcm',
  [SoundFormat.Adpcm]: 'adpcm',
  [SoundFormat.Mp3]: 'mp3',
  [SoundFormat.PcmLittleEndian]: 'pcm',
  [SoundFormat.Nellymoser16kMono]: 'nellymoser',
  [SoundFormat.Nellymoser8kMono]: 'nellymoser',
  [SoundFormat.Nellymoser]: 'nellymoser',
  [SoundFormat.G711ALaw]: 'g711a',
  [SoundFormat.G711MuLaw]: 'g711u',
  [SoundFormat.Aac]: 'aac',
  [SoundFormat.Speex]: 'speex',
  [SoundFormat.Mp3_8k]: 'mp3',
};

/** SoundRate 0..3 (E.4.2.1): 5.5, 11, 22, 44 kHz. */
const SOUND_RATES = [5512, 11025, 22050, 44100] as const;

/** Everything the header says, for code that needs more than AudioInfo. */
export interface AudioTagHeader {
  codec: AudioCodec;
  /** Legacy SoundFormat; 9 (ExHeader) for enhanced tags. */
  soundFormat: number;
  /** FourCC text ('Opus') of enhanced tags; undefined for legacy ones. */
  fourCC?: string;
  packet: AudioPacketKind;
  enhanced: boolean;
  /** Hz / bits / channels; 0 when the header does not say (enhanced). */
  soundRate: number;
  soundSize: number;
  channels: number;
  /** E-RTMP ModEx TimestampOffsetNano (ns), 0 when absent. */
  timestampOffsetNano: number;
  /** Multitrack messages: AvMultitrackType and the first track's id. */
  multitrack?: { type: number; trackId: number };
  /** Offset in the payload where the codec data starts. */
  dataOffset: number;
  /** End of that data: the payload end, or the first track's end in a many-track message. */
  dataEnd: number;
}

function legacyHeader(r: ByteReader, b0: number): AudioTagHeader {
  const soundFormat = b0 >>> 4;
  const h: AudioTagHeader = {
    codec: LEGACY_CODEC[soundFormat] ?? 'unknown',
    soundFormat,
    packet: 'coded-frames',
    enhanced: false,
    soundRate: SOUND_RATES[(b0 >>> 2) & 0x03]!,
    soundSize: b0 & 0x02 ? 16 : 8,
    channels: b0 & 0x01 ? 2 : 1,
    timestampOffsetNano: 0,
    dataOffset: 1,
    dataEnd: r.end,
  };
  // Formats whose rate is fixed whatever SoundRate says (E.4.2.1 notes).
  switch (soundFormat) {
    case SoundFormat.Nellymoser16kMono: h.soundRate = 16000; h.channels = 1; break;
    case SoundFormat.Nellymoser8kMono: h.soundRate = 8000; h.channels = 1; break;
    case SoundFormat.Speex: h.soundRate = 16000; h.channels = 1; break; // sent as `b2`: rate 0, 16 bit, mono
    case SoundFormat.Mp3_8k: h.soundRate = 8000; break;
    // G.711 is "reserved" in E.4.2.1 and always 8 kHz; ffmpeg writes `72`/`82` (SoundRate 0).
    case SoundFormat.G711ALaw: case SoundFormat.G711MuLaw: h.soundRate = 8000; break;
    case SoundFormat.Aac: {
      const pt = r.u8('audio tag: AACPacketType');
      if (pt === AacPacketType.SequenceHeader) h.packet = 'sequence-start';
      else if (pt !== AacPacketType.Raw) throw new SluiceError('ERR_CODEC', `audio tag: unknown AACPacketType ${pt}`);
      break;
    }
    default:
      break;
  }
  h.dataOffset = r.pos;
  return h;
}

function enhancedHeader(r: ByteReader, b0: number): AudioTagHeader {
  const mod = readModEx(r, b0 & 0x0f);
  let packetType = mod.packetType;
  const h: AudioTagHeader = {
    codec: 'unknown', soundFormat: SoundFormat.ExHeader, packet: 'coded-frames', enhanced: true,
    soundRate: 0, soundSize: 0, channels: 0, timestampOffsetNano: mod.nano, dataOffset: 0, dataEnd: r.end,
  };
  if (packetType === AudioPacketType.Multitrack) {
    // `95 00 4f707573 00 ...`: Multitrack, OneTrack | SequenceStart, FourCC 'Opus', trackId 0.
    // As for video: shared packet type, first track's codec and data range.
    const b = r.u8('audio tag: AvMultitrackType | AudioPacketType');
    const mtType = b >>> 4;
    packetType = b & 0x0f;
    if (mtType > AvMultitrackType.ManyTracksManyCodecs) {
      throw new SluiceError('ERR_CODEC', `audio tag: reserved AvMultitrackType ${mtType}`);
    }
    if (packetType === AudioPacketType.Multitrack || packetType === AudioPacketType.ModEx) {
      throw new SluiceError('ERR_CODEC', `audio tag: AudioPacketType ${packetType} inside Multitrack`);
    }
    // Shared FourCC, or (ManyTracksManyCodecs) the first track's own: the next UI32 either way.
    const fourCC = r.u32be('audio tag: FourCC');
    h.fourCC = fourCCText(fourCC);
    h.codec = FOURCC_CODEC.get(fourCC) ?? 'unknown';
    const trackId = r.u8('audio tag: audioTrackId');
    if (mtType !== AvMultitrackType.OneTrack) {
      const size = r.u24be('audio tag: sizeOfAudioTrack');
      r.need(size, 'audio tag: first track');
      h.dataEnd = r.pos + size;
    }
    h.multitrack = { type: mtType, trackId };
  } else {
    const fourCC = r.u32be('audio tag: FourCC');
    h.fourCC = fourCCText(fourCC);
    h.codec = FOURCC_CODEC.get(fourCC) ?? 'unknown';
  }
  switch (packetType) {
    case AudioPacketType.SequenceStart: h.packet = 'sequence-start'; break;
    case AudioPacketType.CodedFrames: break;
    case AudioPacketType.SequenceEnd: h.packet = 'sequence-end'; break;
    case AudioPacketType.MultichannelConfig: {
      // `04 02 ...`: AudioChannelOrder, channelCount, then a map or mask (left in the data).
      h.packet = 'multichannel-config';
      const at = r.pos;
      r.u8('audio tag: audioChannelOrder');
      h.channels = r.u8('audio tag: channelCount');
      r.pos = at;
      break;
    }
    default:
      throw new SluiceError('ERR_CODEC', `audio tag: reserved AudioPacketType ${packetType}`);
  }
  h.dataOffset = r.pos;
  if (h.dataOffset > h.dataEnd) throw new SluiceError('ERR_CODEC', 'audio tag: first track shorter than its header');
  return h;
}

/** Parses the (Ex)AudioTagHeader. Empty or truncated headers throw ERR_CODEC. */
export function parseAudioTagHeader(payload: Uint8Array): AudioTagHeader {
  if (payload.length === 0) throw new SluiceError('ERR_CODEC', 'audio tag: empty payload');
  const r = new ByteReader(payload, 0, payload.length, 'ERR_CODEC');
  const b0 = r.u8();
  return b0 >>> 4 === SoundFormat.ExHeader ? enhancedHeader(r, b0) : legacyHeader(r, b0);
}

/** Offset in the payload where codec data begins (after all header fields). */
export function audioDataOffset(payload: Uint8Array): number {
  return parseAudioTagHeader(payload).dataOffset;
}

/** What the live layer needs about one audio message. */
export function inspectAudio(payload: Uint8Array): AudioInfo {
  const h = parseAudioTagHeader(payload);
  return {
    kind: 'audio',
    codec: h.codec,
    sequenceHeader: h.packet === 'sequence-start',
    soundRate: h.soundRate,
    soundSize: h.soundSize,
    channels: h.channels,
    enhanced: h.enhanced,
    packet: h.packet,
  };
}

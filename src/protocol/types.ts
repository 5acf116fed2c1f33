/**
 * Shapes and constants of the RTMP/FLV protocol layer that other layers
 * depend on. Implementations live in their own files.
 */

/** RTMP message type ids (RTMP spec 5.4, 7.1). */
export const MessageType = {
  SetChunkSize: 1,
  Abort: 2,
  Acknowledgement: 3,
  UserControl: 4,
  WindowAckSize: 5,
  SetPeerBandwidth: 6,
  Audio: 8,
  Video: 9,
  DataAmf3: 15,
  SharedObjectAmf3: 16,
  CommandAmf3: 17,
  DataAmf0: 18,
  SharedObjectAmf0: 19,
  CommandAmf0: 20,
  Aggregate: 22,
} as const;
export type MessageTypeId = (typeof MessageType)[keyof typeof MessageType];

/** User Control event types (RTMP spec 7.1.7). */
export const UserControlEvent = {
  StreamBegin: 0,
  StreamEOF: 1,
  StreamDry: 2,
  SetBufferLength: 3,
  StreamIsRecorded: 4,
  PingRequest: 6,
  PingResponse: 7,
} as const;

/** Header fields of one RTMP message, as the chunk reader assembles them. */
export interface MessageHeader {
  /** Chunk stream id the message arrived on. */
  csid: number;
  type: number;
  /** Absolute timestamp in ms (32-bit, wraps). */
  timestamp: number;
  length: number;
  streamId: number;
}

/** A whole RTMP message whose payload the caller owns or views. */
export interface RtmpMessage extends MessageHeader {
  payload: Uint8Array;
}

/** FLV tag types (FLV spec E.4.1). Equal to the RTMP message types. */
export const TagType = { Audio: 8, Video: 9, Script: 18 } as const;

export type VideoCodec = 'avc' | 'hevc' | 'av1' | 'vp9' | 'vp8' | 'h263' | 'vp6' | 'screen' | 'unknown';
export type AudioCodec =
  | 'aac' | 'mp3' | 'pcm' | 'adpcm' | 'nellymoser' | 'g711a' | 'g711u' | 'speex'
  | 'opus' | 'flac' | 'ac3' | 'eac3' | 'unknown';

/**
 * What a video tag body carries, from AVCPacketType (legacy AVC/HEVC) or
 * VideoPacketType (enhanced RTMP). Legacy codecs without a packet type
 * (H.263, VP6, screen) are always 'coded-frames'.
 */
export type VideoPacketKind =
  | 'sequence-start'          // AVCPacketType 0 / SequenceStart 0: decoder configuration
  | 'coded-frames'            // AVCPacketType 1 / CodedFrames 1 / CodedFramesX 3
  | 'sequence-end'            // AVCPacketType 2 / SequenceEnd 2
  | 'metadata'                // E-RTMP Metadata 4: AMF body (e.g. HDR colorInfo), not a picture
  | 'mpeg2ts-sequence-start'  // E-RTMP MPEG2TSSequenceStart 5: configuration as MPEG-2 TS descriptors
  | 'command';                // FrameType 5 video info/command frame: one UI8, no picture

/** What an audio tag body carries (AACPacketType or enhanced AudioPacketType). */
export type AudioPacketKind =
  | 'sequence-start'          // AACPacketType 0 / SequenceStart 0: AudioSpecificConfig, OpusHead, ...
  | 'coded-frames'            // AACPacketType 1 / CodedFrames 1 / any legacy non-AAC format
  | 'sequence-end'            // E-RTMP SequenceEnd 2
  | 'multichannel-config';    // E-RTMP MultichannelConfig 4: channel order/count

/** What the live layer needs to know about a video tag (hls.js VideoSample style). */
export interface VideoInfo {
  kind: 'video';
  codec: VideoCodec;
  /** Key frame (IDR / sync sample): a player may start here. */
  key: boolean;
  /** Decoder configuration (AVC/HEVC/AV1 sequence header / SequenceStart). */
  sequenceHeader: boolean;
  /** End-of-sequence marker, never cached. */
  sequenceEnd: boolean;
  /** Composition time offset in ms (pts - dts). */
  cts: number;
  /** Enhanced RTMP (ExVideoTagHeader) framing. */
  enhanced: boolean;
  /** Body kind; always set by inspectVideo (optional so hand-built records stay valid). */
  packet?: VideoPacketKind;
}

export interface AudioInfo {
  kind: 'audio';
  codec: AudioCodec;
  /** AAC AudioSpecificConfig, or an enhanced-audio SequenceStart (OpusHead, ...). */
  sequenceHeader: boolean;
  /**
   * SoundRate (Hz) / SoundSize (bits) / SoundType (1 or 2 channels) from the
   * tag header (FLV E.4.2.1). For AAC these bits are fixed (44100, stereo):
   * the real values are in the AudioSpecificConfig (protocol/aac.ts).
   * Enhanced audio has no such bits: 0 means "see the sequence header".
   */
  soundRate: number;
  soundSize: number;
  channels: number;
  /** Enhanced RTMP (ExAudioTagHeader) framing. */
  enhanced?: boolean;
  /** Body kind; always set by inspectAudio (optional so hand-built records stay valid). */
  packet?: AudioPacketKind;
}

export type MediaInfo = VideoInfo | AudioInfo;

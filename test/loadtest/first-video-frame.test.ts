// Time to first frame in the server benches (loadtest/server-bench/harness.ts) ends at the first
// video keyframe, not at the first media message (issue 15: it fired on |RtmpSampleAccess).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVideoKeyframe } from '../../loadtest/media-source.js';
import { onFirstVideoKeyframe } from '../../loadtest/server-bench/harness.js';
import { encodeAmf0 } from '../../src/protocol/amf0.js';
import { TagType } from '../../src/protocol/types.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Legacy VideoTagHeader: FrameType | CodecID, AVCPacketType, SI24 CompositionTime, then data.
const AVC_SEQUENCE_HEADER = hex('17 00 000000  01640028ffe1'); // key | AVC, 0 = sequence header (AVCDecoderConfigurationRecord)
const AVC_KEYFRAME = hex('17 01 000000  00000002 6588'); // key | AVC, 1 = NALUs: one 2-byte IDR slice
const AVC_INTER = hex('27 01 000000  00000002 4188'); // inter | AVC, 1 = NALUs: non-IDR slice
const AVC_END_OF_SEQUENCE = hex('17 02 000000'); // key | AVC, 2 = end of sequence
// Enhanced RTMP ExVideoTagHeader: IsExHeader | FrameType | VideoPacketType, FourCC.
const HEVC_EX_SEQUENCE_START = hex('90 68766331  01'); // ex | key | 0 SequenceStart, 'hvc1'
const HEVC_EX_KEYFRAME = hex('91 68766331 000000  00000002 2601'); // ex | key | 1 CodedFrames, 'hvc1', SI24 cts
const AV1_EX_KEYFRAME_X = hex('93 61763031  12000a'); // ex | key | 3 CodedFramesX, 'av01' (no cts)
const HEVC_EX_INTER = hex('a1 68766331 000000  00000002 0201'); // ex | inter | 1 CodedFrames

test('isVideoKeyframe: key coded frames only, legacy and enhanced', () => {
  assert.equal(isVideoKeyframe(AVC_KEYFRAME), true);
  assert.equal(isVideoKeyframe(HEVC_EX_KEYFRAME), true);
  assert.equal(isVideoKeyframe(AV1_EX_KEYFRAME_X), true);
  assert.equal(isVideoKeyframe(AVC_SEQUENCE_HEADER), false, 'FrameType 1 but no picture');
  assert.equal(isVideoKeyframe(HEVC_EX_SEQUENCE_START), false);
  assert.equal(isVideoKeyframe(AVC_END_OF_SEQUENCE), false);
  assert.equal(isVideoKeyframe(AVC_INTER), false);
  assert.equal(isVideoKeyframe(HEVC_EX_INTER), false);
  assert.equal(isVideoKeyframe(hex('')), false, 'empty: no throw');
  assert.equal(isVideoKeyframe(hex('17')), false, 'truncated: no throw');
});

test('onFirstVideoKeyframe: fires once, at the keyframe after what a server sends on play', () => {
  let fired = 0;
  let firedAt = -1;
  let i = 0;
  const listener = onFirstVideoKeyframe(() => {
    fired++;
    firedAt = i;
  });
  // What sluice sends a new player, in order (GOP cache start); the data message came first.
  const arrivals: [type: number, payload: Buffer][] = [
    [TagType.Script, encodeAmf0(['|RtmpSampleAccess', true, true])],
    [TagType.Script, encodeAmf0(['onMetaData', { width: 160 }])],
    [TagType.Video, AVC_SEQUENCE_HEADER],
    [TagType.Audio, hex('af 00 1210')], // AAC sequence header
    [TagType.Audio, hex('af 01 21')], // AAC raw frame
    [TagType.Video, AVC_INTER], // a server without a GOP cache may start mid-GOP
    [TagType.Script, AVC_KEYFRAME], // key-frame bytes in a data message are no video
    [TagType.Video, AVC_KEYFRAME], // <- the first frame
    [TagType.Video, AVC_INTER],
    [TagType.Video, AVC_KEYFRAME],
  ];
  for (; i < arrivals.length; i++) {
    const [type, payload] = arrivals[i]!;
    listener({ type, timestamp: i * 40, streamId: 1, payload });
  }
  assert.equal(fired, 1);
  assert.equal(firedAt, 7);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FlvDemuxer } from '../../src/protocol/flv-tag.js';
import { TagType } from '../../src/protocol/types.js';
import { inspectVideo, parseVideoTagHeader, videoDataOffset } from '../../src/protocol/video-tag.js';
import { hex, throwsCode } from '../helpers/bytes.js';



const HVC1 = '68766331'; // FourCC 'hvc1'
const AVC1 = '61766331'; // FourCC 'avc1'
const AV01 = '61763031'; // FourCC 'av01'
const VP09 = '76703039'; // FourCC 'vp09'
const VP08 = '76703038'; // FourCC 'vp08'

// ---- legacy VideoTagHeader (FLV v10.1 E.4.3.1) ----

test('legacy AVC: AVCPacketType 0 sequence header', () => {
  const p = hex(
    '17',     // FrameType 1 (key) | CodecID 7 (AVC)
    '00',     // AVCPacketType 0 (sequence header)
    '000000', // CompositionTime 0
    '0164001fffe1', // AVCDecoderConfigurationRecord (start)
  );
  assert.deepEqual(inspectVideo(p), {
    kind: 'video', codec: 'avc', key: false, sequenceHeader: true, sequenceEnd: false, cts: 0,
    enhanced: false, packet: 'sequence-start',
  });
  assert.equal(videoDataOffset(p), 5);
});

test('legacy AVC: AVCPacketType 1 NALU key frame with CompositionTime', () => {
  const p = hex(
    '17',       // FrameType 1 (key) | CodecID 7 (AVC)
    '01',       // AVCPacketType 1 (NALU)
    '000050',   // CompositionTime 80
    '00000002', '0910', // NALU length + AUD
  );
  const v = inspectVideo(p);
  assert.equal(v.key, true);
  assert.equal(v.sequenceHeader, false);
  assert.equal(v.cts, 80);
  assert.equal(v.packet, 'coded-frames');
});

test('legacy AVC: inter frame with negative (SI24) CompositionTime', () => {
  const v = inspectVideo(hex(
    '27',     // FrameType 2 (inter) | CodecID 7 (AVC)
    '01',     // AVCPacketType 1 (NALU)
    'ffffd8', // CompositionTime -40
  ));
  assert.equal(v.key, false);
  assert.equal(v.cts, -40);
});

test('legacy AVC: AVCPacketType 2 end of sequence', () => {
  const v = inspectVideo(hex(
    '17',     // FrameType 1 (key) | CodecID 7 (AVC)
    '02',     // AVCPacketType 2 (end of sequence)
    '000000', // CompositionTime 0
  ));
  assert.equal(v.sequenceEnd, true);
  assert.equal(v.key, false);
  assert.equal(v.packet, 'sequence-end');
});

test('legacy HEVC (CodecID 12, CDN extension): sequence header, key NALU, inter NALU, end', () => {
  const seq = inspectVideo(hex('1c', '00', '000000', '01'));   // FrameType 1 | CodecID 12, seq header, CTS 0, hvcC...
  assert.equal(seq.codec, 'hevc');
  assert.equal(seq.sequenceHeader, true);
  assert.equal(seq.enhanced, false);
  const key = inspectVideo(hex('1c', '01', '000028', '00')); // key NALU, CTS 40
  assert.deepEqual([key.codec, key.key, key.cts], ['hevc', true, 40]);
  const inter = inspectVideo(hex('2c', '01', '000000'));     // FrameType 2 | CodecID 12
  assert.deepEqual([inter.codec, inter.key], ['hevc', false]);
  assert.equal(inspectVideo(hex('1c', '02', '000000')).sequenceEnd, true);
  assert.equal(videoDataOffset(hex('1c', '01', '000028', 'aa')), 5);
});

test('legacy: unknown AVCPacketType is ERR_CODEC', () => {
  throwsCode(() => inspectVideo(hex('17', '03', '000000')), 'ERR_CODEC', /AVCPacketType 3/);
});

test('legacy: FrameType 5 video info/command frame carries a UI8, no picture', () => {
  const h = parseVideoTagHeader(hex(
    '57', // FrameType 5 (command) | CodecID 7 (AVC)
    '01', // VideoCommand 1 (end of client-side seek)
  ));
  assert.equal(h.packet, 'command');
  assert.equal(h.command, 1);
  assert.equal(h.dataOffset, 2);
  const v = inspectVideo(hex('57', '00'));
  assert.deepEqual([v.key, v.sequenceHeader, v.packet], [false, false, 'command']);
});

test('legacy: codecs without a packet type (H.263, screen, VP6) start data at byte 1', () => {
  const h263 = parseVideoTagHeader(hex('22', '0000')); // FrameType 2 | CodecID 2 (Sorenson H.263)
  assert.deepEqual([h263.codec, h263.dataOffset, h263.frameType], ['h263', 1, 2]);
  const vp6 = inspectVideo(hex('14', '00'));         // FrameType 1 | CodecID 4 (On2 VP6)
  assert.deepEqual([vp6.codec, vp6.key, vp6.packet], ['vp6', true, 'coded-frames']);
  assert.equal(inspectVideo(hex('13')).codec, 'screen'); // CodecID 3 (screen video)
  assert.equal(inspectVideo(hex('1f')).codec, 'unknown'); // CodecID 15: unassigned, forwarded as-is
});

test('legacy: reserved FrameType 0 and 6 are ERR_CODEC', () => {
  throwsCode(() => inspectVideo(hex('07', '01', '000000')), 'ERR_CODEC', /reserved FrameType 0/);
  throwsCode(() => inspectVideo(hex('67', '01', '000000')), 'ERR_CODEC', /reserved FrameType 6/);
});

test('empty payload and truncated headers are ERR_CODEC', () => {
  throwsCode(() => inspectVideo(new Uint8Array(0)), 'ERR_CODEC', /empty payload/);
  throwsCode(() => inspectVideo(hex('17')), 'ERR_CODEC', /AVCPacketType: need 1 bytes, have 0/);
  throwsCode(() => inspectVideo(hex('17', '01', '0000')), 'ERR_CODEC', /CompositionTime: need 3 bytes, have 2/);
  throwsCode(() => inspectVideo(hex('57')), 'ERR_CODEC', /VideoCommand/);
  throwsCode(() => inspectVideo(hex('90', '6876')), 'ERR_CODEC', /FourCC: need 4 bytes/);
  throwsCode(() => inspectVideo(hex('91', HVC1, '00')), 'ERR_CODEC', /CompositionTime/);
});

// ---- enhanced RTMP ExVideoTagHeader ----

test('enhanced: SequenceStart (hvc1)', () => {
  const p = hex(
    '90',   // IsExHeader | FrameType 1 (key) | VideoPacketType 0 (SequenceStart)
    HVC1,   // FourCC 'hvc1'
    '01',   // HEVCDecoderConfigurationRecord (start)
  );
  assert.deepEqual(inspectVideo(p), {
    kind: 'video', codec: 'hevc', key: false, sequenceHeader: true, sequenceEnd: false, cts: 0,
    enhanced: true, packet: 'sequence-start',
  });
  const h = parseVideoTagHeader(p);
  assert.deepEqual([h.fourCC, h.dataOffset, h.dataEnd], ['hvc1', 5, 6]);
});

test('enhanced: CodedFrames (hvc1) carries SI24 CompositionTime', () => {
  const p = hex(
    '91',     // IsExHeader | FrameType 1 (key) | VideoPacketType 1 (CodedFrames)
    HVC1,     // FourCC 'hvc1'
    'ffffec', // CompositionTime -20
    '00000003', '260188', // NALU
  );
  const v = inspectVideo(p);
  assert.deepEqual([v.codec, v.key, v.cts, v.packet], ['hevc', true, -20, 'coded-frames']);
  assert.equal(videoDataOffset(p), 8);
});

test('enhanced: CodedFramesX has no CompositionTime (implied 0)', () => {
  const p = hex(
    'a3',   // IsExHeader | FrameType 2 (inter) | VideoPacketType 3 (CodedFramesX)
    HVC1,   // FourCC 'hvc1'
    '00000003', '020180', // NALU straight after the FourCC
  );
  const v = inspectVideo(p);
  assert.deepEqual([v.codec, v.key, v.cts, v.packet], ['hevc', false, 0, 'coded-frames']);
  assert.equal(videoDataOffset(p), 5);
});

test('enhanced: SequenceEnd', () => {
  const v = inspectVideo(hex(
    '92',   // IsExHeader | FrameType 1 | VideoPacketType 2 (SequenceEnd)
    AV01,   // FourCC 'av01'
  ));
  assert.deepEqual([v.codec, v.sequenceEnd, v.key, v.packet], ['av1', true, false, 'sequence-end']);
});

test('enhanced: Metadata ignores FrameType and is not a frame', () => {
  const p = hex(
    '84',   // IsExHeader | FrameType 0 (ignored for Metadata) | VideoPacketType 4 (Metadata)
    HVC1,   // FourCC 'hvc1'
    '02000963', // AMF0 string "colorInfo"... (start)
  );
  const v = inspectVideo(p);
  assert.deepEqual([v.codec, v.key, v.sequenceHeader, v.packet], ['hevc', false, false, 'metadata']);
  assert.equal(videoDataOffset(p), 5);
});

test('enhanced: MPEG2TSSequenceStart counts as a sequence header', () => {
  const v = inspectVideo(hex(
    '95',   // IsExHeader | FrameType 1 | VideoPacketType 5 (MPEG2TSSequenceStart)
    AV01,   // FourCC 'av01'
    '80',   // descriptor bytes
  ));
  assert.deepEqual([v.sequenceHeader, v.key, v.packet], [true, false, 'mpeg2ts-sequence-start']);
});

test('enhanced FourCC avc1: CodedFrames carries CompositionTime', () => {
  const v = inspectVideo(hex(
    '91',     // IsExHeader | FrameType 1 | CodedFrames
    AVC1,     // FourCC 'avc1'
    '000050', // CompositionTime 80
  ));
  assert.deepEqual([v.codec, v.cts, v.key], ['avc', 80, true]);
});

test('enhanced FourCC av01: CodedFrames has no CompositionTime', () => {
  const p = hex(
    '91',   // IsExHeader | FrameType 1 | CodedFrames
    AV01,   // FourCC 'av01'
    '12000a0b', // OBUs (temporal delimiter, sequence header...) straight after the FourCC
  );
  assert.deepEqual([inspectVideo(p).codec, inspectVideo(p).cts, videoDataOffset(p)], ['av1', 0, 5]);
});

test('enhanced FourCC vp09: CodedFrames has no CompositionTime', () => {
  const p = hex('a1', VP09, '8249'); // IsExHeader | FrameType 2 | CodedFrames, 'vp09', frame
  assert.deepEqual([inspectVideo(p).codec, inspectVideo(p).key, videoDataOffset(p)], ['vp9', false, 5]);
});

test('enhanced FourCC vp08 and an unknown FourCC', () => {
  assert.equal(inspectVideo(hex('90', VP08)).codec, 'vp8');
  const h = parseVideoTagHeader(hex('91', '78797a31', 'ff')); // FourCC 'xyz1': forwarded, not understood
  assert.deepEqual([h.codec, h.fourCC, h.cts, h.dataOffset], ['unknown', 'xyz1', 0, 5]);
});

test('enhanced: reserved VideoPacketType 8 is ERR_CODEC', () => {
  throwsCode(() => inspectVideo(hex('98', HVC1)), 'ERR_CODEC', /reserved VideoPacketType 8/);
});

test('enhanced: reserved FrameType 0 and 6 are ERR_CODEC', () => {
  throwsCode(() => inspectVideo(hex('81', HVC1, '000000')), 'ERR_CODEC', /reserved FrameType 0/);
  throwsCode(() => inspectVideo(hex('e1', HVC1, '000000')), 'ERR_CODEC', /reserved FrameType 6/);
});

test('enhanced: FrameType 5 command frame has a VideoCommand and no FourCC', () => {
  const h = parseVideoTagHeader(hex(
    'd1',   // IsExHeader | FrameType 5 (command) | VideoPacketType 1
    '00',   // VideoCommand 0 (StartSeek)
  ));
  assert.deepEqual([h.packet, h.command, h.enhanced, h.dataOffset], ['command', 0, true, 2]);
});

test('enhanced Multitrack OneTrack: FourCC, trackId, then the track', () => {
  const p = hex(
    '96',   // IsExHeader | FrameType 1 | VideoPacketType 6 (Multitrack)
    '00',   // AvMultitrackType 0 (OneTrack) | VideoPacketType 0 (SequenceStart)
    AV01,   // FourCC 'av01'
    '00',   // videoTrackId 0
    '81',   // AV1CodecConfigurationRecord (start)
  );
  const h = parseVideoTagHeader(p);
  assert.deepEqual([h.codec, h.packet, h.dataOffset, h.dataEnd], ['av1', 'sequence-start', 7, 8]);
  assert.deepEqual(h.multitrack, { type: 0, trackId: 0 });
  assert.equal(inspectVideo(p).sequenceHeader, true);
});

test('enhanced Multitrack carrying Metadata: FrameType ignored after the inner packet type', () => {
  const h = parseVideoTagHeader(hex(
    '86',   // IsExHeader | FrameType 0 | Multitrack
    '04',   // OneTrack | VideoPacketType 4 (Metadata)
    HVC1, '00', // FourCC 'hvc1', videoTrackId 0
    '02',   // AMF0 string marker (start)
  ));
  assert.deepEqual([h.packet, h.frameType, h.dataOffset], ['metadata', 0, 7]);
});

test('enhanced Multitrack ManyTracks: first track sized by sizeOfVideoTrack', () => {
  const p = hex(
    '96',     // IsExHeader | FrameType 1 | Multitrack
    '11',     // AvMultitrackType 1 (ManyTracks) | VideoPacketType 1 (CodedFrames)
    HVC1,     // FourCC 'hvc1' shared by all tracks
    '00',     // videoTrackId 0
    '000005', // sizeOfVideoTrack 5
    '000021', // track 0: CompositionTime 33
    'aabb',   // track 0: data
    '01',     // videoTrackId 1
    '000004', // sizeOfVideoTrack 4
    '000000', 'cc', // track 1
  );
  const h = parseVideoTagHeader(p);
  assert.deepEqual([h.codec, h.cts, h.dataOffset, h.dataEnd], ['hevc', 33, 13, 15]);
  assert.deepEqual(h.multitrack, { type: 1, trackId: 0 });
  const v = inspectVideo(p);
  assert.deepEqual([v.key, v.cts], [true, 33]);
});

test('enhanced Multitrack ManyTracksManyCodecs: the first track brings its own FourCC', () => {
  const p = hex(
    '96',     // IsExHeader | FrameType 1 | Multitrack
    '21',     // AvMultitrackType 2 (ManyTracksManyCodecs) | VideoPacketType 1 (CodedFrames)
    AVC1,     // track 0 FourCC 'avc1'
    '02',     // videoTrackId 2
    '000004', // sizeOfVideoTrack 4
    'fffffe', 'dd', // CompositionTime -2, data
    AV01, '03', '000001', 'ee', // track 3: av01
  );
  const h = parseVideoTagHeader(p);
  assert.deepEqual([h.codec, h.fourCC, h.cts, h.dataOffset, h.dataEnd], ['avc', 'avc1', -2, 13, 14]);
  assert.deepEqual(h.multitrack, { type: 2, trackId: 2 });
});

test('enhanced Multitrack: reserved type, nested Multitrack, oversized track are ERR_CODEC', () => {
  throwsCode(() => inspectVideo(hex('96', '31', HVC1, '00')), 'ERR_CODEC', /reserved AvMultitrackType 3/);
  throwsCode(() => inspectVideo(hex('96', '06', HVC1, '00')), 'ERR_CODEC', /VideoPacketType 6 inside Multitrack/);
  throwsCode(() => inspectVideo(hex('96', '11', HVC1, '00', '000010', '000000')), 'ERR_CODEC', /first track: need 16 bytes/);
});

test('enhanced ModEx: TimestampOffsetNano, then the real VideoPacketType', () => {
  const p = hex(
    '97',     // IsExHeader | FrameType 1 | VideoPacketType 7 (ModEx)
    '02',     // modExDataSize - 1 = 2 (3 bytes)
    '07a120', // modExData: TimestampOffsetNano 500000 ns
    '01',     // VideoPacketModExType 0 (TimestampOffsetNano) | VideoPacketType 1 (CodedFrames)
    HVC1,     // FourCC 'hvc1'
    '00000a', // CompositionTime 10
  );
  const h = parseVideoTagHeader(p);
  assert.deepEqual([h.timestampOffsetNano, h.packet, h.cts, h.dataOffset], [500000, 'coded-frames', 10, 13]);
  assert.equal(inspectVideo(p).key, true);
});

test('enhanced ModEx: 16-bit size escape, unknown modifiers skipped, chained ModEx', () => {
  const chain = hex(
    '97',     // IsExHeader | FrameType 1 | VideoPacketType 7 (ModEx)
    'ff',     // modExDataSize - 1 = 255: escape, a UI16 follows
    '0100',   // modExDataSize - 1 = 256 -> 257 bytes
    '00'.repeat(257), // modExData
    '17',     // VideoPacketModExType 1 (unknown, skipped) | VideoPacketType 7 (ModEx again)
    '02',     // modExDataSize - 1 = 2 (3 bytes)
    '0186a0', // TimestampOffsetNano 100000 ns
    '03',     // VideoPacketModExType 0 | VideoPacketType 3 (CodedFramesX)
    HVC1,     // FourCC 'hvc1'
  );
  const h = parseVideoTagHeader(chain);
  assert.deepEqual([h.timestampOffsetNano, h.packet, h.cts, h.codec], [100000, 'coded-frames', 0, 'hevc']);
  assert.equal(h.dataOffset, chain.length);
});

test('enhanced ModEx: TimestampOffsetNano shorter than 3 bytes, truncated data are ERR_CODEC', () => {
  throwsCode(() => inspectVideo(hex('97', '01', '0000', '01', HVC1, '000000')), 'ERR_CODEC', /TimestampOffsetNano needs 3 bytes, has 2/);
  throwsCode(() => inspectVideo(hex('97', '05', '0000')), 'ERR_CODEC', /modExData: need 6 bytes/);
});

test('golden ffmpeg capture: one sequence header, key frames every 5, end of sequence last', () => {
  const flv = readFileSync(new URL('../../../test/fixtures/testsrc-160x120-aac.flv', import.meta.url));
  const video = new FlvDemuxer().push(flv).filter((t) => t.type === TagType.Video).map((t) => inspectVideo(t.data));
  assert.equal(video.length, 12);
  assert.deepEqual(video.map((v) => v.sequenceHeader), [true, ...Array(11).fill(false)]);
  assert.deepEqual(video.map((v) => v.key), [false, true, false, false, false, false, true, false, false, false, false, false]);
  assert.equal(video.at(-1)!.sequenceEnd, true);
  assert.ok(video.every((v) => v.codec === 'avc' && !v.enhanced));
});

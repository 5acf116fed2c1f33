import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { audioDataOffset, inspectAudio, parseAudioTagHeader } from '../../src/protocol/audio-tag.js';
import { FlvDemuxer } from '../../src/protocol/flv-tag.js';
import { TagType } from '../../src/protocol/types.js';
import { hex, throwsCode } from '../helpers/bytes.js';



const OPUS = '4f707573'; // FourCC 'Opus'
const FLAC = '664c6143'; // FourCC 'fLaC'
const MP4A = '6d703461'; // FourCC 'mp4a'

/** [codec, soundRate, soundSize, channels] of a one-byte legacy header. */
const summary = (b0: string): unknown[] => {
  const a = inspectAudio(hex(b0, '00'));
  return [a.codec, a.soundRate, a.soundSize, a.channels];
};

// ---- legacy AudioTagHeader (FLV v10.1 E.4.2.1) ----

test('legacy AAC: AACPacketType 0 AudioSpecificConfig', () => {
  const p = hex(
    'af',   // SoundFormat 10 (AAC) | SoundRate 3 (44 kHz) | SoundSize 1 (16 bit) | SoundType 1 (stereo)
    '00',   // AACPacketType 0 (sequence header)
    '1210', // AudioSpecificConfig: LC, 44100, 2 ch
  );
  assert.deepEqual(inspectAudio(p), {
    kind: 'audio', codec: 'aac', sequenceHeader: true, soundRate: 44100, soundSize: 16, channels: 2,
    enhanced: false, packet: 'sequence-start',
  });
  assert.equal(audioDataOffset(p), 2);
});

test('legacy AAC: AACPacketType 1 raw frame', () => {
  const a = inspectAudio(hex(
    'af',   // AAC | 44 kHz | 16 bit | stereo
    '01',   // AACPacketType 1 (raw)
    '2110', // raw_data_block
  ));
  assert.deepEqual([a.sequenceHeader, a.packet], [false, 'coded-frames']);
});

test('legacy AAC: unknown AACPacketType and missing AACPacketType are ERR_CODEC', () => {
  throwsCode(() => inspectAudio(hex('af', '02')), 'ERR_CODEC', /AACPacketType 2/);
  throwsCode(() => inspectAudio(hex('af')), 'ERR_CODEC', /AACPacketType: need 1 bytes/);
});

test('legacy MP3: rate, size and type come from the header bits', () => {
  assert.deepEqual(summary('2f'), ['mp3', 44100, 16, 2]); // SoundFormat 2 | 44 kHz | 16 bit | stereo
  assert.deepEqual(summary('2a'), ['mp3', 22050, 16, 1]); // SoundFormat 2 | 22 kHz | 16 bit | mono
  assert.equal(audioDataOffset(hex('2f', 'fffb')), 1);     // MP3 frame right after the header byte
});

test('legacy PCM (0 platform endian, 3 little endian) and ADPCM (1)', () => {
  assert.deepEqual(summary('00'), ['pcm', 5512, 8, 1]);    // SoundFormat 0 | 5.5 kHz | 8 bit | mono
  assert.deepEqual(summary('3f'), ['pcm', 44100, 16, 2]);  // SoundFormat 3 | 44 kHz | 16 bit | stereo
  assert.deepEqual(summary('16'), ['adpcm', 11025, 16, 1]); // SoundFormat 1 | 11 kHz | 16 bit | mono
});

test('legacy Nellymoser 16 kHz mono (4), 8 kHz mono (5), any rate (6)', () => {
  assert.deepEqual(summary('42'), ['nellymoser', 16000, 16, 1]); // rate bits ignored
  assert.deepEqual(summary('52'), ['nellymoser', 8000, 16, 1]);
  assert.deepEqual(summary('6a'), ['nellymoser', 22050, 16, 1]); // SoundFormat 6 | 22 kHz | 16 bit | mono
});

test('legacy G.711 A-law (7) and mu-law (8) are 8 kHz', () => {
  assert.deepEqual(summary('72'), ['g711a', 8000, 16, 1]); // SoundFormat 7 | rate 0 | 16 bit | mono
  assert.deepEqual(summary('82'), ['g711u', 8000, 16, 1]); // SoundFormat 8 | rate 0 | 16 bit | mono
});

test('legacy Speex (11) is 16 kHz mono, MP3 8 kHz (14)', () => {
  assert.deepEqual(summary('b2'), ['speex', 16000, 16, 1]); // SoundFormat 11 | rate 0 | 16 bit | mono
  assert.deepEqual(summary('e2'), ['mp3', 8000, 16, 1]);    // SoundFormat 14
});

test('legacy reserved (12) and device-specific (15) formats are forwarded as unknown', () => {
  assert.equal(inspectAudio(hex('c2')).codec, 'unknown');
  assert.equal(inspectAudio(hex('f2')).codec, 'unknown');
});

test('empty payload is ERR_CODEC', () => {
  throwsCode(() => inspectAudio(new Uint8Array(0)), 'ERR_CODEC', /empty payload/);
  throwsCode(() => inspectAudio(hex('90', '4f70')), 'ERR_CODEC', /FourCC: need 4 bytes/);
});

// ---- enhanced RTMP ExAudioTagHeader ----

test('enhanced Opus: SequenceStart (OpusHead)', () => {
  const p = hex(
    '90',     // SoundFormat 9 (ExHeader) | AudioPacketType 0 (SequenceStart)
    OPUS,     // FourCC 'Opus'
    '4f707573486561640102', // OpusHead, version 1, 2 channels...
  );
  assert.deepEqual(inspectAudio(p), {
    kind: 'audio', codec: 'opus', sequenceHeader: true, soundRate: 0, soundSize: 0, channels: 0,
    enhanced: true, packet: 'sequence-start',
  });
  assert.equal(audioDataOffset(p), 5);
});

test('enhanced fLaC: CodedFrames', () => {
  const a = inspectAudio(hex(
    '91',   // ExHeader | AudioPacketType 1 (CodedFrames)
    FLAC,   // FourCC 'fLaC'
    'fff8', // FLAC frame sync
  ));
  assert.deepEqual([a.codec, a.sequenceHeader, a.packet], ['flac', false, 'coded-frames']);
});

test('enhanced mp4a: SequenceStart carries an AudioSpecificConfig', () => {
  const p = hex('90', MP4A, '1210'); // ExHeader | SequenceStart, 'mp4a', ASC
  assert.deepEqual([inspectAudio(p).codec, inspectAudio(p).sequenceHeader], ['aac', true]);
  assert.deepEqual(Buffer.from(p.subarray(audioDataOffset(p))), hex('1210'));
});

test('enhanced ac-3, ec-3, .mp3 FourCCs and an unknown one', () => {
  assert.equal(inspectAudio(hex('91', '61632d33')).codec, 'ac3');  // 'ac-3'
  assert.equal(inspectAudio(hex('91', '65632d33')).codec, 'eac3'); // 'ec-3'
  assert.equal(inspectAudio(hex('91', '2e6d7033')).codec, 'mp3');  // '.mp3'
  const h = parseAudioTagHeader(hex('91', '7a7a7a7a')); // 'zzzz'
  assert.deepEqual([h.codec, h.fourCC], ['unknown', 'zzzz']);
});

test('enhanced SequenceEnd', () => {
  assert.equal(inspectAudio(hex('92', OPUS)).packet, 'sequence-end'); // ExHeader | AudioPacketType 2
});

test('enhanced MultichannelConfig: channel count, data left in place', () => {
  const p = hex(
    '94',       // ExHeader | AudioPacketType 4 (MultichannelConfig)
    OPUS,       // FourCC 'Opus'
    '01',       // AudioChannelOrder 1 (Native)
    '06',       // channelCount 6
    '0000003f', // AudioChannelMask: FL FR FC LFE BL BR
  );
  const a = inspectAudio(p);
  assert.deepEqual([a.packet, a.channels, a.sequenceHeader], ['multichannel-config', 6, false]);
  assert.equal(audioDataOffset(p), 5);
});

test('enhanced Multitrack OneTrack', () => {
  const h = parseAudioTagHeader(hex(
    '95',   // ExHeader | AudioPacketType 5 (Multitrack)
    '00',   // AvMultitrackType 0 (OneTrack) | AudioPacketType 0 (SequenceStart)
    OPUS,   // FourCC 'Opus'
    '00',   // audioTrackId 0
    '4f707573', // OpusHead (start)
  ));
  assert.deepEqual([h.codec, h.packet, h.dataOffset], ['opus', 'sequence-start', 7]);
  assert.deepEqual(h.multitrack, { type: 0, trackId: 0 });
});

test('enhanced Multitrack ManyTracks and ManyTracksManyCodecs: first track range', () => {
  const many = parseAudioTagHeader(hex(
    '95',     // ExHeader | Multitrack
    '11',     // AvMultitrackType 1 (ManyTracks) | AudioPacketType 1 (CodedFrames)
    OPUS,     // shared FourCC
    '00', '000003', 'aabbcc', // track 0: id, size 3, data
    '01', '000001', 'dd',     // track 1
  ));
  assert.deepEqual([many.codec, many.dataOffset, many.dataEnd], ['opus', 10, 13]);
  const mixed = parseAudioTagHeader(hex(
    '95',     // ExHeader | Multitrack
    '21',     // AvMultitrackType 2 (ManyTracksManyCodecs) | CodedFrames
    MP4A, '01', '000002', '2110', // track 1: 'mp4a', size 2, raw AAC
    OPUS, '02', '000001', 'ee',   // track 2: 'Opus'
  ));
  assert.deepEqual([mixed.codec, mixed.fourCC, mixed.dataOffset, mixed.dataEnd], ['aac', 'mp4a', 10, 12]);
  assert.deepEqual(mixed.multitrack, { type: 2, trackId: 1 });
});

test('enhanced ModEx: TimestampOffsetNano then the real AudioPacketType', () => {
  const h = parseAudioTagHeader(hex(
    '97',     // ExHeader | AudioPacketType 7 (ModEx)
    '02',     // modExDataSize - 1 = 2
    '0003e8', // TimestampOffsetNano 1000 ns
    '01',     // AudioPacketModExType 0 | AudioPacketType 1 (CodedFrames)
    OPUS,
  ));
  assert.deepEqual([h.timestampOffsetNano, h.packet, h.codec, h.dataOffset], [1000, 'coded-frames', 'opus', 10]);
});

test('enhanced: reserved AudioPacketType 3 and nested Multitrack are ERR_CODEC', () => {
  throwsCode(() => inspectAudio(hex('93', OPUS)), 'ERR_CODEC', /reserved AudioPacketType 3/);
  throwsCode(() => inspectAudio(hex('95', '05', OPUS)), 'ERR_CODEC', /AudioPacketType 5 inside Multitrack/);
  throwsCode(() => inspectAudio(hex('95', '41', OPUS)), 'ERR_CODEC', /reserved AvMultitrackType 4/);
});

test('golden ffmpeg capture: AAC sequence header first, raw frames after', () => {
  const flv = readFileSync(new URL('../../../test/fixtures/testsrc-160x120-aac.flv', import.meta.url));
  const audio = new FlvDemuxer().push(flv).filter((t) => t.type === TagType.Audio).map((t) => inspectAudio(t.data));
  assert.equal(audio.length, 20);
  assert.deepEqual(audio.map((a) => a.sequenceHeader), [true, ...Array(19).fill(false)]);
  assert.ok(audio.every((a) => a.codec === 'aac' && a.soundRate === 44100 && a.channels === 2));
});

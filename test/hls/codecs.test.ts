/** CODECS strings (RFC 6381, ISO/IEC 14496-15 E.3, AV1-ISOBMFF 5) from the records the init segment carries. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecString } from '../../src/hls/codecs.js';
import { aacTrack, avcTrack, hevcTrack, opusTrack, type Fmp4Track } from '../../src/hls/fmp4.js';
import { buildAudioSpecificConfig } from '../../src/protocol/aac.js';
import { buildAvcDecoderConfig } from '../../src/protocol/avc.js';
import { SPS, PPS } from '../../loadtest/synthetic-media.js';

const hex = (...parts: string[]): Buffer => Buffer.from(parts.join(''), 'hex');

test('CODECS: avc1 profile/compat/level, hvc1 with bit-reversed compatibility and trimmed constraints, av01 profile/level/tier/depth, mp4a AOT, opus', () => {
  // x264 Main 3.1 (SPS 4d401f).
  assert.equal(codecString(avcTrack(1, buildAvcDecoderConfig([SPS], [PPS]))), 'avc1.4d401f');
  // Main profile, compatibility 0x60000000 (Main + Main10) reversed = 6, Main tier level 93, constraint 0x90 then zeros.
  const hvcc = hex('01', '01', '60000000', '900000000000', '5d', 'f000fcfdf8f800000f', '03',
    'a0000100184001' + '0c01ffff01600000030090000003000003005d959809',
    'a10001002942010101600000030090000003000003005da00280802d165959a4932bc04040000003004000000782',
    'a200010007' + '4401c172b46240');
  assert.equal(codecString(hevcTrack(1, hvcc)), 'hvc1.1.6.L93.90');
  // av1C: marker|version, profile 0 level 4, Main tier 8-bit 4:2:0 (the record's first four bytes are all CODECS needs).
  const track = { ...avcTrack(1, buildAvcDecoderConfig([SPS], [PPS])), codec: 'av1', config: hex('81040c00') } as Fmp4Track;
  assert.equal(codecString(track), 'av01.0.04M.08');
  // 0x49: profile 2, level 9; 0xe0: High tier, high_bitdepth and twelve_bit: 12-bit.
  assert.equal(codecString({ ...track, config: hex('8149e000') }), 'av01.2.09H.12');
  assert.equal(codecString(aacTrack(2, buildAudioSpecificConfig({ objectType: 2, sampleRate: 44100, channelConfig: 2 }))), 'mp4a.40.2');
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'latin1');
  head[8] = 1;
  head[9] = 2;
  assert.equal(codecString(opusTrack(2, head)), 'opus');
});

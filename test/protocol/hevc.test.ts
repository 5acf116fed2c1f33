import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHevcDecoderConfig, parseHevcSps } from '../../src/protocol/hevc.js';
import { parseVideoTagHeader } from '../../src/protocol/video-tag.js';
import { hex, throwsCode } from '../helpers/bytes.js';



/**
 * HEVCDecoderConfigurationRecords from the ffmpeg in node_modules (x265 2.9):
 *   $F -f lavfi -i testsrc=size=1280x720:rate=30 -t 0.2 -c:v libx265 -pix_fmt yuv420p -tag:v hvc1 out.mp4
 * and the 'hvcC' box cut out of the MP4. x265 adds a fourth array, a
 * prefix SEI holding its 1.9 KB option string; it is dropped here
 * (numOfArrays 04 -> 03), leaving VPS, SPS and PPS.
 */
const HVCC_720P = hex(
  '01',           // configurationVersion 1
  '01',           // general_profile_space 0 | tier 0 (Main) | general_profile_idc 1 (Main)
  '60000000',     // general_profile_compatibility_flags
  '900000000000', // general_constraint_indicator_flags
  '5d',           // general_level_idc 93 (level 3.1)
  'f000',         // '1111' | min_spatial_segmentation_idc 0
  'fc',           // '111111' | parallelismType 0
  'fd',           // '111111' | chromaFormat 1 (4:2:0)
  'f8',           // '11111' | bitDepthLumaMinus8 0
  'f8',           // '11111' | bitDepthChromaMinus8 0
  '0000',         // avgFrameRate
  '0f',           // constantFrameRate 0 | numTemporalLayers 1 | temporalIdNested 1 | lengthSizeMinusOne 3
  '03',           // numOfArrays 3
  'a0', '0001', '0018', '40010c01ffff01600000030090000003000003005d959809', // VPS (type 32)
  'a1', '0001', '0029', '42010101600000030090000003000003005da00280802d165959a4932bc04040000003004000000782', // SPS
  'a2', '0001', '0007', '4401c172b46240', // PPS (type 34)
);

/** Same command at 426x240: coded as 432x240 with a 3-chroma-sample (6 luma) right conformance window. */
const SPS_426x240 = hex('42010101600000030090000003000003003ca00d880f1c9e5959a4932bc04040000003004000000782');

test('HEVCDecoderConfigurationRecord: profile, level, chroma, NALU length size, parameter sets', () => {
  const c = parseHevcDecoderConfig(HVCC_720P);
  assert.deepEqual(
    [c.profileSpace, c.tier, c.profileIdc, c.levelIdc, c.chromaFormat, c.bitDepthLuma, c.bitDepthChroma, c.nalLengthSize],
    [0, 0, 1, 93, 1, 8, 8, 4],
  );
  assert.deepEqual([c.vps.length, c.sps.length, c.pps.length], [1, 1, 1]);
  assert.equal(Buffer.from(c.pps[0]!).toString('hex'), '4401c172b46240');
});

test('HEVC SPS: Main 1280x720', () => {
  const sps = parseHevcSps(parseHevcDecoderConfig(HVCC_720P).sps[0]!);
  assert.deepEqual(sps, {
    profileIdc: 1, tierFlag: 0, levelIdc: 93, chromaFormatIdc: 1, bitDepthLuma: 8, bitDepthChroma: 8, width: 1280, height: 720,
  });
});

test('HEVC SPS: conformance window crops 432 coded columns to 426', () => {
  const sps = parseHevcSps(SPS_426x240);
  assert.deepEqual([sps.width, sps.height, sps.levelIdc], [426, 240, 60]);
});

test('HEVC sequence header in both framings: legacy CodecID 12 and enhanced hvc1', () => {
  for (const head of [hex('1c', '00', '000000'), hex('90', '68766331')]) {
    const payload = Buffer.concat([head, HVCC_720P]);
    const h = parseVideoTagHeader(payload);
    assert.equal(h.codec, 'hevc');
    const c = parseHevcDecoderConfig(payload.subarray(h.dataOffset));
    assert.equal(parseHevcSps(c.sps[0]!).width, 1280);
  }
});

test('HEVC: SEI and unknown arrays are skipped', () => {
  const withSei = Buffer.concat([HVCC_720P, hex('27', '0001', '0003', '4e0105')]); // prefix SEI array
  withSei[22] = 4; // numOfArrays
  const c = parseHevcDecoderConfig(withSei);
  assert.deepEqual([c.vps.length, c.sps.length, c.pps.length], [1, 1, 1]);
});

test('HEVC: bad version, 3-byte lengths, truncation, wrong NAL type are ERR_CODEC', () => {
  const bad = Buffer.from(HVCC_720P);
  bad[0] = 0;
  throwsCode(() => parseHevcDecoderConfig(bad), 'ERR_CODEC', /configurationVersion 0/);
  const three = Buffer.from(HVCC_720P);
  three[21] = 0x0e; // lengthSizeMinusOne 2
  throwsCode(() => parseHevcDecoderConfig(three), 'ERR_CODEC', /lengthSizeMinusOne 2/);
  throwsCode(() => parseHevcDecoderConfig(HVCC_720P.subarray(0, 40)), 'ERR_CODEC', /hvcC nalUnit: need 24 bytes/);
  throwsCode(() => parseHevcSps(hex('4401c172b46240')), 'ERR_CODEC', /NAL type 34, expected 33/);
  throwsCode(() => parseHevcSps(SPS_426x240.subarray(0, 12)), 'ERR_CODEC', /HEVC SPS: .*need/);
});

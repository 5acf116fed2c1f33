import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BitReader } from '../../src/core/bits.js';
import {
  buildAvcDecoderConfig, buildAvcSequenceHeader, parseAvcDecoderConfig, parseAvcSps, unescapeRbsp,
} from '../../src/protocol/avc.js';
import { inspectVideo } from '../../src/protocol/video-tag.js';
import { hex, throwsCode } from '../helpers/bytes.js';



/**
 * Real AVC sequence headers (whole FLV video tag bodies), made with the
 * ffmpeg in node_modules (x264 core 157) and pulled out with FlvDemuxer:
 *   F=node_modules/@ffmpeg-installer/linux-x64/ffmpeg
 *   HIGH444: $F -f lavfi -i testsrc=size=320x240:rate=25 -t 1 -c:v libx264 -f flv out.flv
 *            (testsrc is RGB, so x264 picks yuv444p: High 4:4:4 Predictive, profile 244)
 *   HIGH:    ... testsrc=size=1280x720:rate=30 ... -c:v libx264 -profile:v high -pix_fmt yuv420p
 *   CROP:    ... testsrc=size=200x90:rate=30000/1001 ... -profile:v baseline -pix_fmt yuv420p
 *            (90 rows = 6 MBs - 6 cropped rows; 200 = 13 MBs - 8 cropped columns)
 *   FIELD:   ... testsrc=size=320x240:rate=25 ... -pix_fmt yuv420p -x264-params interlaced=1
 *   HIGH422: ... testsrc=size=352x288:rate=50 ... -pix_fmt yuv422p (High 4:2:2, profile 122)
 */
const HIGH444 = '170000000001f4000dffe1001967f4000d919b28283f6022000003000200000300641e28532c01000568ebe3c448';
const HIGH = '17000000000164001fffe1001a6764001facd9405005bb0110000003001000000303c0f183196001000668ebe3cb22c0';
const CROP = '17000000000142c00bffe100176742c00bd9034de593011000003e90000ea600f142a48001000568cb83cb20';
const FIELD = '170000000001640015ffe1001a67640015acd941410fcb808800000300080000030190f8a14cb001000668fba3cb22c0';
const HIGH422 = '1700000000017a0015ffe10019677a0015bcd9416096c044000003000400000301903c58b65801000768ebe3cb3002c0';

/** Test-side RBSP writer: fixed bits, ue(v), se(v), then the stop bit. */
class Bits {
  private s = '';
  u(v: number, n: number): this { this.s += v.toString(2).padStart(n, '0'); return this; }
  ue(v: number): this { const x = (v + 1).toString(2); this.s += '0'.repeat(x.length - 1) + x; return this; }
  se(v: number): this { return this.ue(v <= 0 ? -2 * v : 2 * v - 1); }
  rbsp(): Buffer {
    const s = this.s + '1' + '0'.repeat((8 - ((this.s.length + 1) % 8)) % 8);
    return Buffer.from(s.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  }
}

/** Inserts emulation_prevention_three_byte after each 00 00 followed by 00..03. */
function escape(rbsp: Buffer): Buffer {
  const out: number[] = [];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) { out.push(3); zeros = 0; }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

test('AVCDecoderConfigurationRecord fields (High 4:4:4 capture)', () => {
  const tag = hex(HIGH444);
  assert.deepEqual(tag.subarray(0, 5), hex('17', '00', '000000')); // key | AVC, sequence header, CTS 0
  const c = parseAvcDecoderConfig(hex(
    '01',     // configurationVersion 1
    'f4',     // AVCProfileIndication 244 (High 4:4:4 Predictive)
    '00',     // profile_compatibility
    '0d',     // AVCLevelIndication 13 (level 1.3)
    'ff',     // '111111' | lengthSizeMinusOne 3 -> 4-byte NALU lengths
    'e1',     // '111' | numOfSequenceParameterSets 1
    '0019', '67f4000d919b28283f6022000003000200000300641e28532c', // SPS (25 bytes)
    '01',     // numOfPictureParameterSets 1
    '0005', '68ebe3c448', // PPS (5 bytes)
  ));
  assert.deepEqual(c, parseAvcDecoderConfig(tag.subarray(5)));
  assert.deepEqual([c.profile, c.compatibility, c.level, c.nalLengthSize], [244, 0, 13, 4]);
  assert.deepEqual(c.sps.map((s) => Buffer.from(s).toString('hex')), ['67f4000d919b28283f6022000003000200000300641e28532c']);
  assert.deepEqual(c.pps.map((p) => Buffer.from(p).toString('hex')), ['68ebe3c448']);
});

test('SPS: High 4:4:4 Predictive 320x240 at 25 fps (chroma_format_idc 3 path)', () => {
  const sps = parseAvcSps(parseAvcDecoderConfig(hex(HIGH444).subarray(5)).sps[0]!);
  assert.deepEqual(sps, {
    profileIdc: 244, constraintFlags: 0, levelIdc: 13, chromaFormatIdc: 3, bitDepthLuma: 8, bitDepthChroma: 8,
    frameMbsOnly: true, width: 320, height: 240, sar: { width: 1, height: 1 }, fps: 25,
  });
});

test('SPS: High profile 1280x720 at 30 fps', () => {
  const c = parseAvcDecoderConfig(hex(HIGH).subarray(5));
  assert.deepEqual([c.profile, c.level], [100, 31]);
  const sps = parseAvcSps(c.sps[0]!);
  assert.deepEqual([sps.profileIdc, sps.chromaFormatIdc, sps.width, sps.height, sps.fps], [100, 1, 1280, 720, 30]);
});

test('SPS: Baseline with frame cropping, 200x90 at 30000/1001 fps (escaped 00 00 03 inside)', () => {
  const sps = parseAvcSps(parseAvcDecoderConfig(hex(CROP).subarray(5)).sps[0]!);
  assert.deepEqual([sps.profileIdc, sps.constraintFlags, sps.levelIdc], [66, 0xc0, 11]);
  assert.deepEqual([sps.width, sps.height], [200, 90]);
  assert.equal(sps.fps, 30000 / 1001);
});

test('SPS: interlaced (frame_mbs_only_flag 0) doubles map units and crop rows', () => {
  const sps = parseAvcSps(parseAvcDecoderConfig(hex(FIELD).subarray(5)).sps[0]!);
  assert.deepEqual([sps.frameMbsOnly, sps.width, sps.height, sps.fps], [false, 320, 240, 25]);
});

test('SPS: High 4:2:2 352x288 at 50 fps', () => {
  const sps = parseAvcSps(parseAvcDecoderConfig(hex(HIGH422).subarray(5)).sps[0]!);
  assert.deepEqual([sps.profileIdc, sps.chromaFormatIdc, sps.width, sps.height, sps.fps], [122, 2, 352, 288, 50]);
});

/** A 1080p High SPS with every optional branch; `refs` shifts the bit alignment of what follows. */
function syntheticSps(refs: number): Buffer {
  const b = new Bits()
    .u(100, 8).u(0, 8).u(40, 8)  // profile_idc 100, constraint flags, level_idc 40
    .ue(0)                       // seq_parameter_set_id
    .ue(1).ue(0).ue(0).u(0, 1)   // chroma_format_idc 1, bit depths 8/8, qpprime flag
    .u(1, 1);                    // seq_scaling_matrix_present_flag
  b.u(1, 1).se(-8);              // list 0: present, delta -8 -> nextScale 0 = use default, stop
  b.u(1, 1);                     // list 1: present, 16 explicit deltas
  for (let j = 0; j < 16; j++) b.se(j === 0 ? 3 : 0);
  b.u(0, 1).u(0, 1).u(0, 1).u(0, 1); // lists 2..5 absent
  b.u(1, 1);                     // list 6 (8x8): present, 64 deltas
  for (let j = 0; j < 64; j++) b.se(j === 0 ? 8 : j % 2 ? 1 : -1); // 16, 17, 16, ... never 0
  b.u(0, 1);                     // list 7 absent
  b.ue(0)                        // log2_max_frame_num_minus4
    .ue(1)                       // pic_order_cnt_type 1
    .u(0, 1).se(-2).se(1)        // delta_pic_order_always_zero_flag, offset_for_non_ref_pic, offset_for_top_to_bottom_field
    .ue(2).se(3).se(-3)          // num_ref_frames_in_pic_order_cnt_cycle 2, offsets
    .ue(refs).u(0, 1)            // max_num_ref_frames, gaps_in_frame_num_value_allowed_flag
    .ue(119).ue(67)              // 120 x 68 MBs = 1920 x 1088
    .u(1, 1).u(1, 1)             // frame_mbs_only_flag, direct_8x8_inference_flag
    .u(1, 1).ue(0).ue(0).ue(0).ue(4) // frame_cropping: bottom 4 x 2 rows -> 1080
    .u(1, 1)                     // vui_parameters_present_flag
    .u(1, 1).u(255, 8).u(4, 16).u(3, 16) // aspect_ratio_idc 255 (Extended_SAR) 4:3
    .u(0, 1)                     // overscan_info_present_flag
    .u(1, 1).u(5, 3).u(0, 1).u(1, 1).u(1, 8).u(1, 8).u(1, 8) // video signal, BT.709 colour description
    .u(1, 1).ue(0).ue(0)         // chroma_loc_info
    .u(1, 1).u(1, 32).u(60, 32).u(1, 1); // timing: 60 / (2 * 1); num_units_in_tick 1 = 31 zero bits -> 00 00 03 00
  return b.rbsp();
}

test('SPS (synthetic): scaling lists, pic_order_cnt_type 1, 1080p crop, explicit SAR, 30 fps', () => {
  let escaped = 0;
  for (let refs = 0; refs < 16; refs++) {
    const rbsp = syntheticSps(refs);
    const nal = Buffer.concat([hex('67'), escape(rbsp)]);
    if (nal.length > rbsp.length + 1) escaped++;
    const sps = parseAvcSps(nal);
    assert.deepEqual([sps.profileIdc, sps.levelIdc, sps.width, sps.height], [100, 40, 1920, 1080], `refs ${refs}`);
    assert.deepEqual(sps.sar, { width: 4, height: 3 });
    assert.equal(sps.fps, 30);
  }
  assert.equal(escaped, 16, 'every variant puts 00 00 0x in the RBSP, exercising emulation prevention');
});

test('SPS: a VUI cut short keeps the size and drops fps', () => {
  const full = parseAvcDecoderConfig(hex(HIGH).subarray(5)).sps[0]!;
  const sps = parseAvcSps(full.subarray(0, full.length - 6)); // cut inside timing_info
  assert.deepEqual([sps.width, sps.height, sps.fps], [1280, 720, undefined]);
});

test('SPS: wrong NAL type and truncation are ERR_CODEC', () => {
  throwsCode(() => parseAvcSps(hex('68ebe3c448')), 'ERR_CODEC', /NAL type 8, expected 7/);
  throwsCode(() => parseAvcSps(hex('6764001f')), 'ERR_CODEC', /SPS: seq_parameter_set_id: need 1 bits, have 0/);
  throwsCode(() => parseAvcSps(hex('6764001fac')), 'ERR_CODEC', /SPS: .*need/);
});

test('unescapeRbsp drops emulation_prevention_three_byte only after 00 00', () => {
  assert.deepEqual(Buffer.from(unescapeRbsp(hex('00000301', '000003', '00000300'))), hex('000001', '0000', '000000'));
  const plain = hex('0003000301');
  assert.equal(unescapeRbsp(plain), plain); // nothing to drop: same bytes, no copy
});

test('BitReader: ue(v) and se(v) code numbers (H.264 Table 9-2, 9-3)', () => {
  // 1 | 010 | 011 | 00100 | 00101 | 0001000 = ue 0, 1, 2, 3, 4, 7
  const r = new BitReader(Buffer.from([0b10100110, 0b01000010, 0b10001000]));
  assert.deepEqual([r.ue(), r.ue(), r.ue(), r.ue(), r.ue(), r.ue()], [0, 1, 2, 3, 4, 7]);
  // se: 010 -> 1, 011 -> -1, 00100 -> 2, 00101 -> -2
  const s = new BitReader(Buffer.from([0b01001100, 0b10000101]));
  assert.deepEqual([s.se(), s.se(), s.se(), s.se()], [1, -1, 2, -2]);
  assert.equal(new BitReader(Buffer.from([0xff, 0xff, 0xff, 0xff])).bits(32), 0xffffffff);
});

test('record: bad configurationVersion, 3-byte lengths, truncation are ERR_CODEC', () => {
  throwsCode(() => parseAvcDecoderConfig(hex('00', '64001f', 'ff', 'e0', '00')), 'ERR_CODEC', /configurationVersion 0/);
  throwsCode(() => parseAvcDecoderConfig(hex('01', '64001f', 'fe', 'e0', '00')), 'ERR_CODEC', /lengthSizeMinusOne 2/);
  throwsCode(() => parseAvcDecoderConfig(hex('01', '64001f', 'ff', 'e1', '0019', '6764')), 'ERR_CODEC', /avcC SPS: need 25 bytes, have 2/);
  throwsCode(() => parseAvcDecoderConfig(hex('01', '64001f', 'ff', 'e0')), 'ERR_CODEC', /numOfPictureParameterSets/);
});

test('record: 2-byte NALU lengths and several parameter sets', () => {
  const c = parseAvcDecoderConfig(hex(
    '01', '42c01e', // version 1, Baseline, compat c0, level 3.0
    'fd',           // lengthSizeMinusOne 1 -> 2-byte lengths
    'e2', '0004', '6742c01e', '0004', '6742c11e', // 2 SPS
    '02', '0002', '68ce', '0002', '68cf',         // 2 PPS
  ));
  assert.deepEqual([c.nalLengthSize, c.sps.length, c.pps.length], [2, 2, 2]);
});

test('buildAvcSequenceHeader reproduces the ffmpeg sequence headers byte for byte', () => {
  for (const fixture of [HIGH444, HIGH, CROP, FIELD, HIGH422]) {
    const c = parseAvcDecoderConfig(hex(fixture).subarray(5));
    const built = buildAvcSequenceHeader(c.sps, c.pps);
    assert.equal(built.toString('hex'), fixture);
    assert.equal(buildAvcDecoderConfig(c.sps, c.pps).toString('hex'), fixture.slice(10));
    const v = inspectVideo(built);
    assert.deepEqual([v.codec, v.sequenceHeader], ['avc', true]);
  }
});

test('buildAvcSequenceHeader: field by field', () => {
  assert.deepEqual(buildAvcSequenceHeader([hex('6742c01e')], [hex('68ce')]), hex(
    '17',       // FrameType 1 (key) | CodecID 7 (AVC)
    '00',       // AVCPacketType 0 (sequence header)
    '000000',   // CompositionTime 0
    '01',       // configurationVersion
    '42c01e',   // profile, compatibility, level copied from SPS bytes 1..3
    'ff',       // 4-byte NALU lengths
    'e1', '0004', '6742c01e', // 1 SPS
    '01', '0002', '68ce',     // 1 PPS
  ));
  throwsCode(() => buildAvcSequenceHeader([], []), 'ERR_CODEC', /0 SPS/);
});

import { BitReader } from '../core/bits.js';
import { ByteReader } from '../core/bytes.js';
import { SluiceError } from '../core/errors.js';

/**
 * H.264/AVC codec headers: the AVCDecoderConfigurationRecord that an RTMP
 * sequence header carries (ISO/IEC 14496-15 5.3.3.1) and the SPS inside
 * it (ITU-T H.264 7.3.2.1.1), which gives the picture size and frame rate.
 */

/**
 * NAL unit payload to RBSP: drops each emulation_prevention_three_byte
 * (H.264 7.4.1): `00 00 03 0x` -> `00 00 0x`. Returns the input when none.
 */
export function unescapeRbsp(nal: Uint8Array): Uint8Array {
  let zeros = 0;
  let first = -1;
  for (let i = 0; i < nal.length; i++) {
    if (zeros >= 2 && nal[i] === 3) { first = i; break; }
    zeros = nal[i] === 0 ? zeros + 1 : 0;
  }
  if (first < 0) return nal;
  const out = new Uint8Array(nal.length);
  let n = 0;
  zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i]!;
    if (zeros >= 2 && b === 3) { zeros = 0; continue; }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

export interface AvcDecoderConfig {
  /** AVCProfileIndication, profile_compatibility, AVCLevelIndication (copies of SPS bytes 1..3). */
  profile: number;
  compatibility: number;
  level: number;
  /** Bytes of each NALU length prefix in the frames (1, 2 or 4). */
  nalLengthSize: number;
  /** Views into the record (no copy), NAL header byte included. */
  sps: Uint8Array[];
  pps: Uint8Array[];
}

/** Parses an AVCDecoderConfigurationRecord (the body after `17 00 000000`). */
export function parseAvcDecoderConfig(record: Uint8Array): AvcDecoderConfig {
  const r = new ByteReader(record, 0, record.length, 'ERR_CODEC');
  const version = r.u8('avcC configurationVersion');
  if (version !== 1) throw new SluiceError('ERR_CODEC', `avcC configurationVersion ${version}, expected 1`);
  const profile = r.u8('avcC AVCProfileIndication');
  const compatibility = r.u8('avcC profile_compatibility');
  const level = r.u8('avcC AVCLevelIndication');
  // 0xff = reserved '111111' + lengthSizeMinusOne '11' (4-byte lengths).
  const nalLengthSize = (r.u8('avcC lengthSizeMinusOne') & 0x03) + 1;
  if (nalLengthSize === 3) throw new SluiceError('ERR_CODEC', 'avcC lengthSizeMinusOne 2 is not allowed (1, 2 or 4 bytes)');
  // 0xe1 = reserved '111' + numOfSequenceParameterSets 1.
  const numSps = r.u8('avcC numOfSequenceParameterSets') & 0x1f;
  const sps: Uint8Array[] = [];
  for (let i = 0; i < numSps; i++) sps.push(r.bytes(r.u16be('avcC SPS length'), 'avcC SPS'));
  const numPps = r.u8('avcC numOfPictureParameterSets');
  const pps: Uint8Array[] = [];
  for (let i = 0; i < numPps; i++) pps.push(r.bytes(r.u16be('avcC PPS length'), 'avcC PPS'));
  // High profiles may add chroma_format/bit depth/SPS-ext here; the SPS holds the same facts.
  return { profile, compatibility, level, nalLengthSize, sps, pps };
}

export interface AvcSps {
  profileIdc: number;
  /** constraint_set0..5 flags byte. */
  constraintFlags: number;
  levelIdc: number;
  /** 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4. */
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  /** false for interlaced (field/MBAFF) coding. */
  frameMbsOnly: boolean;
  /** Displayed size, after frame cropping. */
  width: number;
  height: number;
  /** Sample aspect ratio from the VUI, when signalled. */
  sar?: { width: number; height: number };
  /** Frames per second from VUI timing: time_scale / (2 * num_units_in_tick). */
  fps?: number;
}

/** profile_idc values whose SPS carries chroma_format_idc and friends (H.264 7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** Table E-1: SAR for aspect_ratio_idc 1..16 (255 = explicit). */
const SAR_TABLE: ReadonlyArray<readonly [number, number]> = [
  [0, 0], [1, 1], [12, 11], [10, 11], [16, 11], [40, 33], [24, 11], [20, 11], [32, 11],
  [80, 33], [18, 11], [15, 11], [64, 33], [160, 99], [4, 3], [3, 2], [2, 1],
];

function skipScalingList(b: BitReader, size: number): void {
  // H.264 7.3.2.1.1.1: delta-coded until nextScale hits 0 (the rest repeat the last value).
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) {
      const delta = b.se('delta_scale');
      next = (last + delta + 256) % 256;
    }
    last = next === 0 ? last : next;
  }
}

/** Parses an SPS NAL unit (header byte `67` included, emulation prevention still in). */
export function parseAvcSps(nal: Uint8Array): AvcSps {
  if (nal.length < 4) throw new SluiceError('ERR_CODEC', `SPS: ${nal.length} bytes is too short`);
  const nalType = nal[0]! & 0x1f;
  if (nalType !== 7) throw new SluiceError('ERR_CODEC', `SPS: NAL type ${nalType}, expected 7`);
  const b = new BitReader(unescapeRbsp(nal.subarray(1)), 'SPS');
  const profileIdc = b.bits(8, 'profile_idc');
  const constraintFlags = b.bits(8, 'constraint_set flags');
  const levelIdc = b.bits(8, 'level_idc');
  b.ue('seq_parameter_set_id');
  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  let bitDepthLuma = 8;
  let bitDepthChroma = 8;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = b.ue('chroma_format_idc');
    if (chromaFormatIdc > 3) throw new SluiceError('ERR_CODEC', `SPS: chroma_format_idc ${chromaFormatIdc}`);
    if (chromaFormatIdc === 3) separateColourPlane = b.flag('separate_colour_plane_flag');
    bitDepthLuma = b.ue('bit_depth_luma_minus8') + 8;
    bitDepthChroma = b.ue('bit_depth_chroma_minus8') + 8;
    b.skip(1, 'qpprime_y_zero_transform_bypass_flag');
    if (b.flag('seq_scaling_matrix_present_flag')) {
      const lists = chromaFormatIdc !== 3 ? 8 : 12;
      for (let i = 0; i < lists; i++) {
        if (b.flag('seq_scaling_list_present_flag')) skipScalingList(b, i < 6 ? 16 : 64);
      }
    }
  }
  b.ue('log2_max_frame_num_minus4');
  const pocType = b.ue('pic_order_cnt_type');
  if (pocType === 0) {
    b.ue('log2_max_pic_order_cnt_lsb_minus4');
  } else if (pocType === 1) {
    b.skip(1, 'delta_pic_order_always_zero_flag');
    b.se('offset_for_non_ref_pic');
    b.se('offset_for_top_to_bottom_field');
    const cycle = b.ue('num_ref_frames_in_pic_order_cnt_cycle');
    if (cycle > 255) throw new SluiceError('ERR_CODEC', `SPS: num_ref_frames_in_pic_order_cnt_cycle ${cycle}`);
    for (let i = 0; i < cycle; i++) b.se('offset_for_ref_frame');
  }
  b.ue('max_num_ref_frames');
  b.skip(1, 'gaps_in_frame_num_value_allowed_flag');
  const widthMbs = b.ue('pic_width_in_mbs_minus1') + 1;
  const heightMapUnits = b.ue('pic_height_in_map_units_minus1') + 1;
  const frameMbsOnly = b.flag('frame_mbs_only_flag');
  if (!frameMbsOnly) b.skip(1, 'mb_adaptive_frame_field_flag');
  b.skip(1, 'direct_8x8_inference_flag');
  let cropLeft = 0, cropRight = 0, cropTop = 0, cropBottom = 0;
  if (b.flag('frame_cropping_flag')) {
    cropLeft = b.ue('frame_crop_left_offset');
    cropRight = b.ue('frame_crop_right_offset');
    cropTop = b.ue('frame_crop_top_offset');
    cropBottom = b.ue('frame_crop_bottom_offset');
  }
  // Crop units (H.264 7.4.2.1.1, Table 6-1): chroma subsampling, doubled vertically for field coding.
  const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
  const subWidthC = chromaFormatIdc === 3 ? 1 : 2;
  const subHeightC = chromaFormatIdc === 1 ? 2 : 1;
  const fieldFactor = frameMbsOnly ? 1 : 2;
  const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC;
  const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * fieldFactor;
  const width = widthMbs * 16 - (cropLeft + cropRight) * cropUnitX;
  const height = fieldFactor * heightMapUnits * 16 - (cropTop + cropBottom) * cropUnitY;
  if (width <= 0 || height <= 0) throw new SluiceError('ERR_CODEC', `SPS: cropping leaves ${width}x${height}`);

  const sps: AvcSps = {
    profileIdc, constraintFlags, levelIdc, chromaFormatIdc, bitDepthLuma, bitDepthChroma,
    frameMbsOnly, width, height,
  };
  if (b.flag('vui_parameters_present_flag')) {
    try {
      parseVui(b, sps);
    } catch (err) {
      // A truncated VUI costs the optional fields only; the size above is sound.
      if (!(err instanceof SluiceError)) throw err;
    }
  }
  return sps;
}

/** VUI (H.264 E.1.1) up to timing_info: SAR and frame rate. */
function parseVui(b: BitReader, sps: AvcSps): void {
  if (b.flag('aspect_ratio_info_present_flag')) {
    const idc = b.bits(8, 'aspect_ratio_idc');
    if (idc === 255) {
      const width = b.bits(16, 'sar_width');
      const height = b.bits(16, 'sar_height');
      if (width && height) sps.sar = { width, height };
    } else if (idc > 0 && idc < SAR_TABLE.length) {
      const [width, height] = SAR_TABLE[idc]!;
      sps.sar = { width, height };
    }
  }
  if (b.flag('overscan_info_present_flag')) b.skip(1, 'overscan_appropriate_flag');
  if (b.flag('video_signal_type_present_flag')) {
    b.skip(4, 'video_format, video_full_range_flag');
    if (b.flag('colour_description_present_flag')) b.skip(24, 'colour_primaries..matrix_coefficients');
  }
  if (b.flag('chroma_loc_info_present_flag')) {
    b.ue('chroma_sample_loc_type_top_field');
    b.ue('chroma_sample_loc_type_bottom_field');
  }
  if (b.flag('timing_info_present_flag')) {
    const unitsInTick = b.bits(32, 'num_units_in_tick');
    const timeScale = b.bits(32, 'time_scale');
    // One frame = 2 ticks (a tick is a field period), E.2.1.
    if (unitsInTick > 0 && timeScale > 0) sps.fps = timeScale / (2 * unitsInTick);
  }
}

/** Size of the record buildAvcDecoderConfig writes. */
function recordSize(sps: Uint8Array[], pps: Uint8Array[]): number {
  let n = 7; // version, profile, compat, level, lengthSize, numSps, numPps
  for (const s of sps) n += 2 + s.length;
  for (const p of pps) n += 2 + p.length;
  return n;
}

function writeRecord(dst: Buffer, off: number, sps: Uint8Array[], pps: Uint8Array[]): void {
  if (sps.length === 0 || sps.length > 31) throw new SluiceError('ERR_CODEC', `avcC: ${sps.length} SPS (1..31 allowed)`);
  if (pps.length > 255) throw new SluiceError('ERR_CODEC', `avcC: ${pps.length} PPS (max 255)`);
  const first = sps[0]!;
  if (first.length < 4) throw new SluiceError('ERR_CODEC', 'avcC: SPS too short');
  dst[off++] = 1; // configurationVersion
  dst[off++] = first[1]!; // AVCProfileIndication = profile_idc
  dst[off++] = first[2]!; // profile_compatibility = constraint flags
  dst[off++] = first[3]!; // AVCLevelIndication = level_idc
  dst[off++] = 0xff; // '111111' + lengthSizeMinusOne 3
  dst[off++] = 0xe0 | sps.length; // '111' + numOfSequenceParameterSets
  for (const s of sps) {
    if (s.length > 0xffff) throw new SluiceError('ERR_CODEC', 'avcC: SPS longer than 65535 bytes');
    off = dst.writeUInt16BE(s.length, off);
    dst.set(s, off);
    off += s.length;
  }
  dst[off++] = pps.length;
  for (const p of pps) {
    if (p.length > 0xffff) throw new SluiceError('ERR_CODEC', 'avcC: PPS longer than 65535 bytes');
    off = dst.writeUInt16BE(p.length, off);
    dst.set(p, off);
    off += p.length;
  }
}

/**
 * AVCDecoderConfigurationRecord for 4-byte NALU lengths, as ffmpeg's FLV
 * muxer writes it (no high-profile extension bytes).
 */
export function buildAvcDecoderConfig(sps: Uint8Array[], pps: Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(recordSize(sps, pps));
  writeRecord(out, 0, sps, pps);
  return out;
}

/**
 * A whole RTMP video message / FLV video tag body carrying the sequence header:
 *   17       FrameType 1 (key) | CodecID 7 (AVC)
 *   00       AVCPacketType 0 (sequence header)
 *   000000   CompositionTime 0
 *   ...      AVCDecoderConfigurationRecord
 */
export function buildAvcSequenceHeader(sps: Uint8Array[], pps: Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(5 + recordSize(sps, pps));
  out[0] = 0x17;
  out[1] = 0x00;
  out[2] = out[3] = out[4] = 0;
  writeRecord(out, 5, sps, pps);
  return out;
}

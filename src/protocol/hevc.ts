import { BitReader } from '../core/bits.js';
import { ByteReader } from '../core/bytes.js';
import { SluiceError } from '../core/errors.js';
import { unescapeRbsp } from './avc.js';

/**
 * H.265/HEVC codec headers: the HEVCDecoderConfigurationRecord of a
 * sequence header (ISO/IEC 14496-15 8.3.3.1; legacy `1c 00 000000` or
 * enhanced `90 68766331`) and the SPS fields up to the picture size
 * (ITU-T H.265 7.3.2.2). Frame rate is not extracted: in HEVC it sits
 * in the VUI behind the short-term reference picture sets.
 */

/** HEVC NAL unit types carried in the record's arrays. */
export const HevcNalType = { Vps: 32, Sps: 33, Pps: 34, PrefixSei: 39, SuffixSei: 40 } as const;

export interface HevcDecoderConfig {
  profileSpace: number;
  tier: number;
  profileIdc: number;
  levelIdc: number;
  /** 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4. */
  chromaFormat: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  /** Bytes of each NALU length prefix in the frames (1, 2 or 4). */
  nalLengthSize: number;
  /** Views into the record (no copy), 2-byte NAL header included. */
  vps: Uint8Array[];
  sps: Uint8Array[];
  pps: Uint8Array[];
}

/** Parses an HEVCDecoderConfigurationRecord. */
export function parseHevcDecoderConfig(record: Uint8Array): HevcDecoderConfig {
  const r = new ByteReader(record, 0, record.length, 'ERR_CODEC');
  const version = r.u8('hvcC configurationVersion');
  if (version !== 1) throw new SluiceError('ERR_CODEC', `hvcC configurationVersion ${version}, expected 1`);
  const ptl = r.u8('hvcC profile_space|tier|profile_idc'); // `01` = space 0, Main tier, Main profile
  r.skip(4 + 6, 'hvcC compatibility and constraint flags');
  const levelIdc = r.u8('hvcC general_level_idc');
  r.skip(2 + 1, 'hvcC min_spatial_segmentation_idc, parallelismType');
  const chromaFormat = r.u8('hvcC chromaFormat') & 0x03;
  const bitDepthLuma = (r.u8('hvcC bitDepthLumaMinus8') & 0x07) + 8;
  const bitDepthChroma = (r.u8('hvcC bitDepthChromaMinus8') & 0x07) + 8;
  r.skip(2, 'hvcC avgFrameRate');
  // `0f` = constantFrameRate 0, numTemporalLayers 1, temporalIdNested 1, lengthSizeMinusOne 3.
  const nalLengthSize = (r.u8('hvcC lengthSizeMinusOne') & 0x03) + 1;
  if (nalLengthSize === 3) throw new SluiceError('ERR_CODEC', 'hvcC lengthSizeMinusOne 2 is not allowed (1, 2 or 4 bytes)');
  const arrays = r.u8('hvcC numOfArrays');
  const out: HevcDecoderConfig = {
    profileSpace: ptl >>> 6, tier: (ptl >>> 5) & 1, profileIdc: ptl & 0x1f, levelIdc,
    chromaFormat, bitDepthLuma, bitDepthChroma, nalLengthSize, vps: [], sps: [], pps: [],
  };
  for (let i = 0; i < arrays; i++) {
    // `a1` = array_completeness 1 | reserved 0 | NAL_unit_type 33 (SPS).
    const type = r.u8('hvcC NAL_unit_type') & 0x3f;
    const count = r.u16be('hvcC numNalus');
    for (let j = 0; j < count; j++) {
      const nal = r.bytes(r.u16be('hvcC nalUnitLength'), 'hvcC nalUnit');
      if (type === HevcNalType.Vps) out.vps.push(nal);
      else if (type === HevcNalType.Sps) out.sps.push(nal);
      else if (type === HevcNalType.Pps) out.pps.push(nal);
      // SEI and others (x265 puts its version string here) are skipped.
    }
  }
  return out;
}

export interface HevcSps {
  profileIdc: number;
  tierFlag: number;
  levelIdc: number;
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  /** Displayed size, after the conformance window. */
  width: number;
  height: number;
}

/** profile_tier_level() (H.265 7.3.3) for the general profile plus sub-layers; returns profile and level. */
function profileTierLevel(b: BitReader, maxSubLayersMinus1: number): { profileIdc: number; tierFlag: number; levelIdc: number } {
  b.skip(2, 'general_profile_space');
  const tierFlag = b.bits(1, 'general_tier_flag');
  const profileIdc = b.bits(5, 'general_profile_idc');
  b.skip(32 + 4 + 43 + 1, 'general compatibility/constraint flags');
  const levelIdc = b.bits(8, 'general_level_idc');
  const profilePresent: boolean[] = [];
  const levelPresent: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    profilePresent.push(b.flag('sub_layer_profile_present_flag'));
    levelPresent.push(b.flag('sub_layer_level_present_flag'));
  }
  if (maxSubLayersMinus1 > 0) b.skip(2 * (8 - maxSubLayersMinus1), 'reserved_zero_2bits');
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (profilePresent[i]) b.skip(88, 'sub_layer profile');
    if (levelPresent[i]) b.skip(8, 'sub_layer_level_idc');
  }
  return { profileIdc, tierFlag, levelIdc };
}

/** Parses an SPS NAL unit (2-byte header `42 01` included, emulation prevention still in). */
export function parseHevcSps(nal: Uint8Array): HevcSps {
  if (nal.length < 4) throw new SluiceError('ERR_CODEC', `HEVC SPS: ${nal.length} bytes is too short`);
  const nalType = (nal[0]! >>> 1) & 0x3f;
  if (nalType !== HevcNalType.Sps) throw new SluiceError('ERR_CODEC', `HEVC SPS: NAL type ${nalType}, expected 33`);
  const b = new BitReader(unescapeRbsp(nal.subarray(2)), 'HEVC SPS');
  b.skip(4, 'sps_video_parameter_set_id');
  const maxSubLayersMinus1 = b.bits(3, 'sps_max_sub_layers_minus1');
  if (maxSubLayersMinus1 > 6) throw new SluiceError('ERR_CODEC', `HEVC SPS: sps_max_sub_layers_minus1 ${maxSubLayersMinus1}`);
  b.skip(1, 'sps_temporal_id_nesting_flag');
  const ptl = profileTierLevel(b, maxSubLayersMinus1);
  b.ue('sps_seq_parameter_set_id');
  const chromaFormatIdc = b.ue('chroma_format_idc');
  if (chromaFormatIdc > 3) throw new SluiceError('ERR_CODEC', `HEVC SPS: chroma_format_idc ${chromaFormatIdc}`);
  let separateColourPlane = false;
  if (chromaFormatIdc === 3) separateColourPlane = b.flag('separate_colour_plane_flag');
  let width = b.ue('pic_width_in_luma_samples');
  let height = b.ue('pic_height_in_luma_samples');
  if (b.flag('conformance_window_flag')) {
    // Offsets are in chroma units (H.265 Table 6-1): 2x2 for 4:2:0, 2x1 for 4:2:2.
    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
    const subHeightC = chromaArrayType === 1 ? 2 : 1;
    const left = b.ue('conf_win_left_offset');
    const right = b.ue('conf_win_right_offset');
    const top = b.ue('conf_win_top_offset');
    const bottom = b.ue('conf_win_bottom_offset');
    width -= subWidthC * (left + right);
    height -= subHeightC * (top + bottom);
  }
  if (width <= 0 || height <= 0) throw new SluiceError('ERR_CODEC', `HEVC SPS: picture ${width}x${height}`);
  const bitDepthLuma = b.ue('bit_depth_luma_minus8') + 8;
  const bitDepthChroma = b.ue('bit_depth_chroma_minus8') + 8;
  return { ...ptl, chromaFormatIdc, bitDepthLuma, bitDepthChroma, width, height };
}

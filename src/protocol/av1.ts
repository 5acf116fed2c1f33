import { BitReader } from '../core/bits.js';
import { SluiceError } from '../core/errors.js';

/**
 * AV1 codec headers: the AV1CodecConfigurationRecord of an enhanced RTMP
 * SequenceStart ('av01', AV1-ISOBMFF 2.3.3) and, from the sequence header
 * OBU in its configOBUs, the largest frame size (AV1 spec 5.5.1).
 */

export interface Av1Config {
  seqProfile: number;
  seqLevelIdx0: number;
  /** The sequence header's max_frame_width/height; 0 when the record carries no sequence header OBU. */
  width: number;
  height: number;
}

const OBU_SEQUENCE_HEADER = 1;

export function parseAv1Config(record: Uint8Array): Av1Config {
  if (record.length < 4) throw new SluiceError('ERR_CODEC', `av1C: ${record.length} bytes is too short`);
  const marker = record[0]! >>> 7;
  const version = record[0]! & 0x7f;
  if (marker !== 1 || version !== 1) throw new SluiceError('ERR_CODEC', `av1C: marker ${marker} version ${version}, expected 1 and 1`);
  const out: Av1Config = { seqProfile: record[1]! >>> 5, seqLevelIdx0: record[1]! & 0x1f, width: 0, height: 0 };
  let at = 4;
  while (at < record.length) {
    const header = record[at]!;
    const type = (header >>> 3) & 0x0f;
    const extension = (header & 0x04) !== 0;
    const hasSize = (header & 0x02) !== 0;
    at += extension ? 2 : 1;
    let size = record.length - at;
    if (hasSize) {
      const [n, used] = leb128(record, at);
      at += used;
      size = n;
    }
    if (at + size > record.length) throw new SluiceError('ERR_CODEC', `av1C: OBU of ${size} bytes overruns the record`);
    if (type === OBU_SEQUENCE_HEADER) Object.assign(out, frameSize(record.subarray(at, at + size)));
    at += size;
  }
  return out;
}

/** leb128() (AV1 4.10.5): value and bytes used. */
function leb128(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const byte = b[at + i];
    if (byte === undefined) throw new SluiceError('ERR_CODEC', 'av1C: truncated leb128');
    v += (byte & 0x7f) * 2 ** (7 * i);
    if (!(byte & 0x80)) return [v, i + 1];
  }
  throw new SluiceError('ERR_CODEC', 'av1C: leb128 longer than 8 bytes');
}

/** sequence_header_obu() up to max_frame_height_minus_1. */
function frameSize(obu: Uint8Array): { width: number; height: number } {
  const b = new BitReader(obu, 'AV1 sequence header');
  b.skip(3, 'seq_profile');
  b.skip(1, 'still_picture');
  const reduced = b.flag('reduced_still_picture_header');
  if (reduced) {
    b.skip(5, 'seq_level_idx[0]');
  } else {
    let decoderModel = false;
    let bufferDelayBits = 0;
    if (b.flag('timing_info_present_flag')) {
      b.skip(32, 'num_units_in_display_tick');
      b.skip(32, 'time_scale');
      if (b.flag('equal_picture_interval')) uvlc(b);
      decoderModel = b.flag('decoder_model_info_present_flag');
      if (decoderModel) {
        bufferDelayBits = b.bits(5, 'buffer_delay_length_minus_1') + 1;
        b.skip(32, 'num_units_in_decoding_tick');
        b.skip(5, 'buffer_removal_time_length_minus_1');
        b.skip(5, 'frame_presentation_time_length_minus_1');
      }
    }
    const initialDisplayDelay = b.flag('initial_display_delay_present_flag');
    const points = b.bits(5, 'operating_points_cnt_minus_1') + 1;
    for (let i = 0; i < points; i++) {
      b.skip(12, 'operating_point_idc');
      if (b.bits(5, 'seq_level_idx') > 7) b.skip(1, 'seq_tier');
      if (decoderModel && b.flag('decoder_model_present_for_this_op')) {
        b.skip(bufferDelayBits, 'decoder_buffer_delay');
        b.skip(bufferDelayBits, 'encoder_buffer_delay');
        b.skip(1, 'low_delay_mode_flag');
      }
      if (initialDisplayDelay && b.flag('initial_display_delay_present_for_this_op')) b.skip(4, 'initial_display_delay_minus_1');
    }
  }
  const wBits = b.bits(4, 'frame_width_bits_minus_1') + 1;
  const hBits = b.bits(4, 'frame_height_bits_minus_1') + 1;
  return { width: b.bits(wBits, 'max_frame_width_minus_1') + 1, height: b.bits(hBits, 'max_frame_height_minus_1') + 1 };
}

/** uvlc() (AV1 4.10.3). */
function uvlc(b: BitReader): number {
  let zeros = 0;
  while (!b.flag('uvlc')) {
    if (++zeros >= 32) throw new SluiceError('ERR_CODEC', 'AV1 sequence header: uvlc too long');
  }
  return zeros === 0 ? 0 : b.bits(zeros, 'uvlc value') + 2 ** zeros - 1;
}

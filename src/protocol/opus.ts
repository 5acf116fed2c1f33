import { SluiceError } from '../core/errors.js';

/**
 * Opus as enhanced RTMP carries it (veovera E-RTMP v2, FourCC 'Opus'): the
 * SequenceStart body is the identification header of RFC 7845 5.1
 * ("OpusHead", little-endian fields), each CodedFrames body one Opus packet
 * (RFC 6716). Opus always runs at 48 kHz; the input rate is informative.
 *
 *   4f707573 48656164 01 02 3801 80bb0000 0000 00
 *   "OpusHead"        v1 2ch pre-skip 312, input 48000 Hz, gain 0, mapping family 0
 */

export interface OpusHead {
  channels: number;
  /** Samples (at 48 kHz) to drop at the start of decoding. */
  preSkip: number;
  inputSampleRate: number;
  /** Q7.8 dB, signed. */
  outputGain: number;
  mappingFamily: number;
  /** For mapping family != 0: stream count, coupled count and one byte per channel. */
  mapping: { streams: number; coupled: number; table: Uint8Array } | undefined;
}

const MAGIC = Buffer.from('OpusHead', 'latin1');
const HEAD_SIZE = 19;

export function parseOpusHead(b: Uint8Array): OpusHead {
  if (b.length < HEAD_SIZE || !MAGIC.equals(b.subarray(0, 8))) throw new SluiceError('ERR_CODEC', `opus: not an OpusHead (${b.length} bytes)`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const version = b[8]!;
  // RFC 7845 5.1: a major version (upper 4 bits) other than 0 is incompatible.
  if (version >> 4 !== 0) throw new SluiceError('ERR_CODEC', `opus: OpusHead version ${version}`);
  const channels = b[9]!;
  if (channels === 0) throw new SluiceError('ERR_CODEC', 'opus: OpusHead with 0 channels');
  const mappingFamily = b[18]!;
  let mapping: OpusHead['mapping'];
  if (mappingFamily !== 0) {
    if (b.length < HEAD_SIZE + 2 + channels) throw new SluiceError('ERR_CODEC', `opus: OpusHead channel mapping of ${channels} channels truncated`);
    mapping = { streams: b[19]!, coupled: b[20]!, table: b.subarray(21, 21 + channels) };
    if (mapping.streams === 0 || mapping.coupled > mapping.streams) throw new SluiceError('ERR_CODEC', `opus: ${mapping.streams} streams, ${mapping.coupled} coupled`);
  } else if (channels > 2) {
    throw new SluiceError('ERR_CODEC', `opus: mapping family 0 with ${channels} channels`);
  }
  return {
    channels, preSkip: dv.getUint16(10, true), inputSampleRate: dv.getUint32(12, true),
    outputGain: dv.getInt16(16, true), mappingFamily, mapping,
  };
}

/** Opus' clock: every packet's duration counts 48 kHz samples, whatever the input rate. */
export const OPUS_RATE = 48000;

/** Frame sizes of the TOC's config (RFC 6716 3.1), in 48 kHz samples: SILK 10/20/40/60 ms, hybrid 10/20, CELT 2.5/5/10/20. */
function frameSamples(config: number): number {
  if (config < 12) return [480, 960, 1920, 2880][config & 3]!;
  if (config < 16) return [480, 960][config & 1]!;
  return [120, 240, 480, 960][config & 3]!;
}

/** Samples (48 kHz) of one Opus packet, from its TOC byte and frame count (RFC 6716 3.1-3.2); 0 when unreadable. */
export function opusPacketSamples(p: Uint8Array): number {
  if (p.length === 0) return 0;
  const toc = p[0]!;
  const code = toc & 3;
  const frames = code === 0 ? 1 : code < 3 ? 2 : p.length > 1 ? p[1]! & 0x3f : 0;
  return frames * frameSamples(toc >> 3);
}

import { BitReader } from '../core/bits.js';
import { SluiceError } from '../core/errors.js';

/**
 * AAC AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1), the body of an AAC
 * sequence header (`af 00` + ASC). The common two bytes:
 *   12 10  = 00010 0100 0010 0...  AOT 2 (LC), frequency index 4 (44100), channels 2
 */

/** samplingFrequencyIndex 0..12 (14496-3 Table 1.18); 13, 14 reserved; 15 = explicit 24-bit rate. */
export const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350] as const;

/** channelConfiguration -> channel count (Table 1.19; 0 = program_config_element, 8-10/15 reserved). */
const CHANNELS = [0, 1, 2, 3, 4, 5, 6, 8, 0, 0, 0, 7, 8, 24, 8, 0] as const;

/** Object types with a GASpecificConfig (14496-3 1.6.2.1). */
const GA_TYPES = new Set([1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23]);
/** Object types followed by epConfig. */
const EP_TYPES = new Set([17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 39]);

export const AacObjectType = { Main: 1, Lc: 2, Ssr: 3, Ltp: 4, Sbr: 5, Ps: 29, Escape: 31 } as const;

export interface AudioSpecificConfig {
  /** audioObjectType as signalled first: 2 for AAC-LC, 5 (SBR) / 29 (PS) for explicit HE-AAC. */
  objectType: number;
  /** Core sampling frequency in Hz. */
  sampleRate: number;
  channelConfig: number;
  /** Channel count from channelConfig; 0 when a program_config_element defines it. */
  channels: number;
  /** Object type of the AAC core: equals objectType unless objectType is 5 or 29. */
  coreObjectType: number;
  /** Spectral band replication, signalled explicitly or by the 0x2b7 sync extension. */
  sbr: boolean;
  /** Parametric stereo (objectType 29, or the 0x548 sync extension). */
  ps: boolean;
  /** Output rate with SBR (extensionSamplingFrequency). */
  extensionSampleRate?: number;
}

function readObjectType(b: BitReader): number {
  // 5 bits; 31 escapes to 32 + 6 more bits: `11111 001010` = 42.
  const t = b.bits(5, 'audioObjectType');
  return t === AacObjectType.Escape ? 32 + b.bits(6, 'audioObjectTypeExt') : t;
}

function readSampleRate(b: BitReader): number {
  // 4-bit index; 15 escapes to an explicit 24-bit frequency: `1111 00abe0` = 44000 Hz.
  const i = b.bits(4, 'samplingFrequencyIndex');
  if (i === 15) return b.bits(24, 'samplingFrequency');
  const rate = AAC_SAMPLE_RATES[i];
  if (rate === undefined) throw new SluiceError('ERR_CODEC', `AudioSpecificConfig: reserved samplingFrequencyIndex ${i}`);
  return rate;
}

/** Skips GASpecificConfig (1.6.2.1 / 4.4.1); false when it cannot be skipped (PCE). */
function skipGaSpecificConfig(b: BitReader, aot: number, channelConfig: number): boolean {
  if (channelConfig === 0) return false; // program_config_element: not worth walking
  b.skip(1, 'frameLengthFlag');
  if (b.flag('dependsOnCoreCoder')) b.skip(14, 'coreCoderDelay');
  const extensionFlag = b.flag('extensionFlag');
  if (aot === 6 || aot === 20) b.skip(3, 'layerNr');
  if (extensionFlag) {
    if (aot === 22) b.skip(16, 'numOfSubFrame, layer_length');
    if (aot === 17 || aot === 19 || aot === 20 || aot === 23) b.skip(3, 'resilience flags');
    b.skip(1, 'extensionFlag3');
  }
  return true;
}

/** Parses an AudioSpecificConfig. Truncated or reserved values throw ERR_CODEC. */
export function parseAudioSpecificConfig(asc: Uint8Array): AudioSpecificConfig {
  const b = new BitReader(asc, 'AudioSpecificConfig');
  const objectType = readObjectType(b);
  if (objectType === 0) throw new SluiceError('ERR_CODEC', 'AudioSpecificConfig: audioObjectType 0 (null)');
  const sampleRate = readSampleRate(b);
  const channelConfig = b.bits(4, 'channelConfiguration');
  const out: AudioSpecificConfig = {
    objectType, sampleRate, channelConfig, channels: CHANNELS[channelConfig]!,
    coreObjectType: objectType, sbr: false, ps: false,
  };
  const explicit = objectType === AacObjectType.Sbr || objectType === AacObjectType.Ps;
  if (explicit) {
    // Hierarchical signalling: `2b 11 88 00` = AOT 5, 24000 Hz, 2 ch, extension 48000 Hz, core AOT 2.
    out.sbr = true;
    out.ps = objectType === AacObjectType.Ps;
    out.extensionSampleRate = readSampleRate(b);
    out.coreObjectType = readObjectType(b);
    if (out.coreObjectType === 22) b.skip(4, 'extensionChannelConfiguration');
  }
  // What follows only refines HE-AAC detection: a short or exotic tail is not an error.
  try {
    const core = out.coreObjectType;
    if (!GA_TYPES.has(core) || !skipGaSpecificConfig(b, core, channelConfig)) return out;
    if (EP_TYPES.has(core) && b.bits(2, 'epConfig') >= 2) return out; // ErrorProtectionSpecificConfig follows
    // Backward-compatible signalling (1.6.5.2): sync 0x2b7, AOT 5, sbrPresentFlag [, rate, 0x548, psPresentFlag].
    // ffmpeg appends `56 e5 00` to plain LC: 0x2b7, AOT 5, sbrPresentFlag 0.
    if (explicit || b.bitsLeft < 16 || b.bits(11, 'syncExtensionType') !== 0x2b7) return out;
    if (readObjectType(b) !== AacObjectType.Sbr) return out;
    if (!b.flag('sbrPresentFlag')) return out;
    out.sbr = true;
    out.extensionSampleRate = readSampleRate(b);
    if (b.bitsLeft >= 12 && b.bits(11, 'syncExtensionType') === 0x548 && b.flag('psPresentFlag')) out.ps = true;
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
  }
  return out;
}

/**
 * A minimal AudioSpecificConfig: objectType (escaped past 30), frequency
 * index (or the explicit 24-bit rate), channelConfiguration, and a zeroed
 * GASpecificConfig. `{2, 44100, 2}` -> `12 10`.
 */
export function buildAudioSpecificConfig(cfg: { objectType: number; sampleRate: number; channelConfig: number }): Buffer {
  const fields: Array<[number, number]> = [];
  if (cfg.objectType >= 31) fields.push([31, 5], [cfg.objectType - 32, 6]);
  else fields.push([cfg.objectType, 5]);
  const index = AAC_SAMPLE_RATES.indexOf(cfg.sampleRate as (typeof AAC_SAMPLE_RATES)[number]);
  if (index >= 0) fields.push([index, 4]);
  else fields.push([15, 4], [cfg.sampleRate, 24]);
  fields.push([cfg.channelConfig, 4], [0, 3]); // frameLengthFlag, dependsOnCoreCoder, extensionFlag
  const bits = fields.reduce((n, [, w]) => n + w, 0);
  const out = Buffer.alloc(Math.ceil(bits / 8));
  let at = 0;
  for (const [value, width] of fields) {
    for (let i = width - 1; i >= 0; i--, at++) {
      if (Math.floor(value / 2 ** i) & 1) out[at >>> 3]! |= 0x80 >>> (at & 7);
    }
  }
  return out;
}

/**
 * A whole RTMP audio message / FLV audio tag body carrying the config:
 *   af   SoundFormat 10 (AAC) | 44 kHz | 16 bit | stereo (fixed for AAC, E.4.2.1)
 *   00   AACPacketType 0 (sequence header)
 *   ...  AudioSpecificConfig
 */
export function buildAacSequenceHeader(asc: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(2 + asc.length);
  out[0] = 0xaf;
  out[1] = 0x00;
  out.set(asc, 2);
  return out;
}

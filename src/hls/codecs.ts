import { parseAudioSpecificConfig } from '../protocol/aac.js';
import { parseAvcDecoderConfig } from '../protocol/avc.js';
import { parseHevcDecoderConfig } from '../protocol/hevc.js';
import type { Fmp4Track } from './fmp4.js';

/**
 * The CODECS attribute of a multivariant playlist's EXT-X-STREAM-INF
 * (RFC 8216 4.3.4.2, RFC 6381), from the same records the init segment
 * carries, so a player can tell before fetching media whether it can play:
 *
 *   avc1.64001f             RFC 6381 3.3: profile, compatibility, level (hex)
 *   hvc1.1.6.L93.b0         ISO/IEC 14496-15 E.3: space+profile, compatibility (bit-reversed), tier+level, constraints
 *   av01.0.04M.08           AV1-ISOBMFF 5: profile, level + tier, bit depth
 *   mp4a.40.2  opus         the audio object type as signalled; Opus is "opus"
 */
export function codecString(t: Fmp4Track): string {
  const c = t.config;
  switch (t.codec) {
    case 'avc': {
      const r = parseAvcDecoderConfig(c);
      return `avc1.${hex2(r.profile)}${hex2(r.compatibility)}${hex2(r.level)}`;
    }
    case 'hevc': {
      const r = parseHevcDecoderConfig(c);
      const compat = ((c[2]! << 24) | (c[3]! << 16) | (c[4]! << 8) | c[5]!) >>> 0;
      const constraints = [...c.subarray(6, 12)];
      while (constraints.length > 0 && constraints[constraints.length - 1] === 0) constraints.pop();
      const space = r.profileSpace === 0 ? '' : String.fromCharCode(64 + r.profileSpace);
      const parts = [`hvc1`, `${space}${r.profileIdc}`, reverseBits(compat).toString(16), `${r.tier ? 'H' : 'L'}${r.levelIdc}`];
      return [...parts, ...constraints.map((b) => b.toString(16))].join('.');
    }
    case 'av1': {
      // av1C byte 1: seq_profile(3) seq_level_idx_0(5); byte 2: seq_tier_0, high_bitdepth, twelve_bit, ...
      const level = c[1]! & 0x1f;
      const tier = (c[2]! & 0x80) !== 0;
      const depth = c[2]! & 0x20 ? 12 : c[2]! & 0x40 ? 10 : 8;
      return `av01.${c[1]! >>> 5}.${String(level).padStart(2, '0')}${tier ? 'H' : 'M'}.${String(depth).padStart(2, '0')}`;
    }
    case 'aac':
      return `mp4a.40.${parseAudioSpecificConfig(c).objectType}`;
    case 'opus':
      return 'opus';
  }
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

function reverseBits(n: number): number {
  let out = 0;
  for (let i = 0; i < 32; i++) out = (out << 1) | ((n >>> i) & 1);
  return out >>> 0;
}

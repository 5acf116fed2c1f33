import type { ByteReader } from '../core/bytes.js';
import { SluiceError } from '../core/errors.js';

/**
 * Pieces of enhanced RTMP (veovera E-RTMP v1/v2) that the video and audio
 * tag headers share: the ModEx packet type and its reader, the multitrack
 * type and FourCC text.
 */

/** VideoPacketType.ModEx and AudioPacketType.ModEx (E-RTMP v2): both 7. */
export const MOD_EX_PACKET_TYPE = 7;

/** E-RTMP AvMultitrackType (high nibble after VideoPacketType.Multitrack / AudioPacketType.Multitrack). */
export const AvMultitrackType = { OneTrack: 0, ManyTracks: 1, ManyTracksManyCodecs: 2 } as const;

/** A FourCC UI32 as text, e.g. 0x68766331 -> 'hvc1'. */
export function fourCCText(v: number): string {
  return String.fromCharCode(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

/**
 * E-RTMP v2 ModEx: while the packet type is ModEx (7), read
 *   modExDataSize = UI8 + 1 (escape: 256 -> UI16 + 1)
 *   modExData[modExDataSize]
 *   UB[4] PacketModExType | UB[4] next PacketType
 * e.g. `97 02 07a120 01`: key | ModEx, 3 data bytes = TimestampOffsetNano 500000,
 * then modifier type 0 | VideoPacketType 1 (CodedFrames).
 * Only TimestampOffsetNano (type 0, UI24 in the first 3 data bytes) is
 * defined; other modifiers are skipped by their size.
 */
export function readModEx(r: ByteReader, packetType: number): { packetType: number; nano: number } {
  let nano = 0;
  while (packetType === MOD_EX_PACKET_TYPE) {
    let size = r.u8('ModEx modExDataSize') + 1;
    if (size === 256) size = r.u16be('ModEx modExDataSize (16-bit)') + 1;
    const data = r.bytes(size, 'ModEx modExData');
    const next = r.u8('ModEx type | packet type');
    packetType = next & 0x0f;
    if (next >>> 4 === 0) {
      if (size < 3) throw new SluiceError('ERR_CODEC', `ModEx TimestampOffsetNano needs 3 bytes, has ${size}`);
      nano = (data[0]! << 16) | (data[1]! << 8) | data[2]!;
    }
  }
  return { packetType, nano };
}

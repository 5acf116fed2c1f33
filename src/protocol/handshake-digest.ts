import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The digest ("complex", Flash Player 9+) handshake maths. Not in the
 * RTMP 1.0 spec (which describes only the plain handshake, section 5.2);
 * this is the scheme Flash Player, FMS, ffmpeg, librtmp, nginx-rtmp and
 * SRS agree on. Pure functions over 1536-byte C1/S1/C2/S2 packets.
 */

/** C1, S1, C2 and S2 are each 1536 bytes (RTMP spec 5.2.3). */
export const HANDSHAKE_SIZE = 1536;
/** HMAC-SHA256 output. */
export const DIGEST_SIZE = 32;

/** time(4) + version(4) precede the two 764-byte blocks. */
const HEADER_SIZE = 8;
const BLOCK_SIZE = 764;
/** A digest block is offset(4) + 728 free bytes + digest(32): the digest may start anywhere in the 728. */
const DIGEST_RANGE = BLOCK_SIZE - 4 - DIGEST_SIZE;
/** S2/C2 carry their signature in the last 32 bytes. */
const SIGNATURE_POS = HANDSHAKE_SIZE - DIGEST_SIZE;

/** The 32 constant bytes both well-known keys end with. */
const KEY_TAIL = [
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57,
  0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
];

/**
 * Server key, 68 bytes: "Genuine Adobe Flash Media Server 001" (36) +
 * KEY_TAIL (32). The 36-byte name alone signs S1; the full 68 bytes key
 * the S2 signature.
 */
export const FMS_KEY: Buffer = Buffer.concat([
  Buffer.from('Genuine Adobe Flash Media Server 001', 'latin1'),
  Buffer.from(KEY_TAIL),
]);
export const FMS_KEY_NAME: Buffer = FMS_KEY.subarray(0, 36);

/**
 * Client key, 62 bytes: "Genuine Adobe Flash Player 001" (30) +
 * KEY_TAIL (32). The 30-byte name alone signs C1; the full 62 bytes key
 * the C2 signature.
 */
export const FP_KEY: Buffer = Buffer.concat([
  Buffer.from('Genuine Adobe Flash Player 001', 'latin1'),
  Buffer.from(KEY_TAIL),
]);
export const FP_KEY_NAME: Buffer = FP_KEY.subarray(0, 30);

/**
 * Where C1/S1 keep their digest. After time(4) + version(4) come a key
 * block and a digest block, 764 bytes each, in either order:
 *   schema 0: [time][version][key block @8][digest block @772]
 *   schema 1: [time][version][digest block @8][key block @772]
 * (SRS's numbering; ffmpeg and librtmp clients send schema 1.)
 */
export type DigestSchema = 0 | 1;

/** Byte offset of the 32-byte digest inside a C1/S1 laid out in `schema`. */
export function digestPosition(packet: Uint8Array, schema: DigestSchema): number {
  const block = schema === 0 ? HEADER_SIZE + BLOCK_SIZE : HEADER_SIZE;
  // The block's first 4 bytes are summed (not read as a u32): e.g. 00 00 01 02 → offset 3.
  const sum = packet[block]! + packet[block + 1]! + packet[block + 2]! + packet[block + 3]!;
  return block + 4 + (sum % DIGEST_RANGE);
}

/** HMAC-SHA256 over the packet minus the 32 digest bytes at `pos`. */
export function computeDigest(packet: Uint8Array, pos: number, key: Uint8Array): Buffer {
  return createHmac('sha256', key)
    .update(packet.subarray(0, pos))
    .update(packet.subarray(pos + DIGEST_SIZE, HANDSHAKE_SIZE))
    .digest();
}

export interface FoundDigest {
  schema: DigestSchema;
  /** Offset of the digest in the packet. */
  pos: number;
  /** A copy of the 32 digest bytes (keys the peer's S2/C2 signature). */
  digest: Buffer;
}

/**
 * Looks for a valid digest in C1/S1 under each schema, `prefer` first.
 * Undefined when neither verifies (a plain-handshake peer, or garbage).
 */
export function findDigest(
  packet: Uint8Array,
  key: Uint8Array,
  prefer: DigestSchema = 0,
): FoundDigest | undefined {
  for (const schema of prefer === 0 ? ([0, 1] as const) : ([1, 0] as const)) {
    const pos = digestPosition(packet, schema);
    const want = computeDigest(packet, pos, key);
    const have = packet.subarray(pos, pos + DIGEST_SIZE);
    if (timingSafeEqual(want, have)) return { schema, pos, digest: Buffer.from(have) };
  }
  return undefined;
}

/** Writes the digest of C1/S1 into place for `schema`; returns it with its position. */
export function imprintDigest(packet: Uint8Array, schema: DigestSchema, key: Uint8Array): FoundDigest {
  const pos = digestPosition(packet, schema);
  const digest = computeDigest(packet, pos, key);
  packet.set(digest, pos);
  return { schema, pos, digest };
}

/**
 * The S2/C2 signature: HMAC-SHA256 keyed by HMAC-SHA256(fullKey,
 * peerDigest) over the first 1504 bytes. S2 uses FMS_KEY and C1's digest;
 * C2 uses FP_KEY and S1's digest.
 */
export function responseSignature(packet: Uint8Array, peerDigest: Uint8Array, fullKey: Uint8Array): Buffer {
  const key = createHmac('sha256', fullKey).update(peerDigest).digest();
  return createHmac('sha256', key).update(packet.subarray(0, SIGNATURE_POS)).digest();
}

/** Signs S2/C2 in place (its last 32 bytes). */
export function imprintResponse(packet: Uint8Array, peerDigest: Uint8Array, fullKey: Uint8Array): void {
  packet.set(responseSignature(packet, peerDigest, fullKey), SIGNATURE_POS);
}

/** Whether S2/C2 carries the signature the digest handshake expects. */
export function verifyResponse(packet: Uint8Array, peerDigest: Uint8Array, fullKey: Uint8Array): boolean {
  const want = responseSignature(packet, peerDigest, fullKey);
  return timingSafeEqual(want, packet.subarray(SIGNATURE_POS, HANDSHAKE_SIZE));
}

/**
 * MPEG-TS program-specific information (ISO/IEC 13818-1 2.4.4): the PAT and
 * PMT sections of a single-program transport stream, each in one TS packet,
 * and the CRC_32 that ends every PSI section.
 */

/** Program Association Table PID (13818-1 Table 2-3). */
export const PAT_PID = 0x0000;
/** Where the PAT points for program 1's PMT (what ffmpeg and most HLS packagers use). */
export const PMT_PID = 0x1000;
export const VIDEO_PID = 0x100;
export const AUDIO_PID = 0x101;
/** program_number of the one program, and the PAT's transport_stream_id. */
export const PROGRAM_NUMBER = 1;
export const TS_PACKET_SIZE = 188;

/** stream_type (13818-1 Table 2-34 and its amendments). */
export const StreamType = { Aac: 0x0f, Avc: 0x1b, Hevc: 0x24 } as const;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32/MPEG-2 (13818-1 Annex A): polynomial 0x04C11DB7, initial value all
 * ones, no reflection, no final xor. Over a whole section including its
 * CRC_32 field it is 0, which is how a reader checks it.
 */
export function crc32Mpeg2(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ data[i]!) & 0xff]!;
  return crc >>> 0;
}

export interface PmtStream {
  streamType: number;
  pid: number;
}

/**
 * Writes one PSI packet at `at`: header (payload_unit_start, payload only),
 * pointer_field 0, the section (table_id .. last_section_number given as
 * `body` after the 3-byte section header), CRC_32, then 0xff fill (13818-1
 * 2.4.4: stuffing after the last section of a PSI packet).
 */
function psiPacket(out: Buffer, at: number, pid: number, cc: number, tableId: number, body: readonly number[]): void {
  out[at] = 0x47;
  out[at + 1] = 0x40 | (pid >> 8);
  out[at + 2] = pid & 0xff;
  out[at + 3] = 0x10 | (cc & 0x0f);
  out[at + 4] = 0; // pointer_field
  const s = at + 5;
  const sectionLength = body.length + 4; // after section_length, CRC included
  out[s] = tableId;
  out[s + 1] = 0xb0 | (sectionLength >> 8); // section_syntax_indicator 1, '0', reserved '11'
  out[s + 2] = sectionLength & 0xff;
  for (let i = 0; i < body.length; i++) out[s + 3 + i] = body[i]!;
  const crcAt = s + 3 + body.length;
  out.writeUInt32BE(crc32Mpeg2(out, s, crcAt), crcAt);
  out.fill(0xff, crcAt + 4, at + TS_PACKET_SIZE);
}

/** version_number 0, current_next_indicator 1, section_number 0, last_section_number 0. */
const SECTION_TAIL = [0xc1, 0x00, 0x00];

/** PAT (table_id 0): transport_stream_id 1, program 1 -> PMT_PID. */
export function writePat(out: Buffer, at: number, cc: number): void {
  psiPacket(out, at, PAT_PID, cc, 0x00, [
    PROGRAM_NUMBER >> 8, PROGRAM_NUMBER & 0xff, ...SECTION_TAIL,
    PROGRAM_NUMBER >> 8, PROGRAM_NUMBER & 0xff, 0xe0 | (PMT_PID >> 8), PMT_PID & 0xff,
  ]);
}

/** PMT (table_id 2) of program 1: PCR_PID and the elementary streams, no descriptors. */
export function writePmt(out: Buffer, at: number, cc: number, pcrPid: number, streams: readonly PmtStream[]): void {
  const body = [PROGRAM_NUMBER >> 8, PROGRAM_NUMBER & 0xff, ...SECTION_TAIL, 0xe0 | (pcrPid >> 8), pcrPid & 0xff, 0xf0, 0x00];
  for (const s of streams) body.push(s.streamType, 0xe0 | (s.pid >> 8), s.pid & 0xff, 0xf0, 0x00);
  psiPacket(out, at, PMT_PID, cc, 0x02, body);
}

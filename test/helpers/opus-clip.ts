/**
 * A real Opus stream for tests: the bundled ffmpeg encodes a tone with
 * libopus into Ogg (RFC 7845), and its packets are read back here: the
 * first is the identification header (OpusHead, what an E-RTMP 'Opus'
 * SequenceStart carries), the second the comment header, then one Opus
 * packet each, timed from their TOC bytes.
 *
 *   90 4f707573 <OpusHead>   ExHeader | SequenceStart, FourCC 'Opus'
 *   91 4f707573 <packet>     ExHeader | CodedFrames
 */
import { readFileSync } from 'node:fs';
import { opusPacketSamples, OPUS_RATE } from '../../src/protocol/opus.js';
import { runFfmpeg, tmpFile } from './ffmpeg.js';

export interface OpusClip {
  head: Buffer;
  packets: { ts: number; data: Buffer }[];
  sequenceStart: Buffer;
  /** The E-RTMP audio message of packet i. */
  frame(i: number): Buffer;
}

const FOURCC = Buffer.from('Opus', 'latin1');

/** Packets of an Ogg file's one logical stream (RFC 3533: pages, lacing values of 255 continue a packet). */
export function oggPackets(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pending: Buffer[] = [];
  for (let at = 0; at < file.length;) {
    if (file.toString('latin1', at, at + 4) !== 'OggS') throw new Error(`ogg: no page at ${at}`);
    const segments = file[at + 26]!;
    const lacing = file.subarray(at + 27, at + 27 + segments);
    let body = at + 27 + segments;
    for (const len of lacing) {
      pending.push(file.subarray(body, body + len));
      body += len;
      if (len < 255) {
        out.push(Buffer.concat(pending));
        pending = [];
      }
    }
    at = body;
  }
  return out;
}

export async function opusClip(seconds: number, channels = 2): Promise<OpusClip> {
  const file = tmpFile(`opus-${seconds}s-${channels}ch.ogg`);
  await runFfmpeg(['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-ac', String(channels), '-c:a', 'libopus', '-b:a', '64k', '-frame_duration', '20', '-f', 'ogg', file], 30_000);
  const [head, , ...audio] = oggPackets(readFileSync(file));
  if (!head || head.toString('latin1', 0, 8) !== 'OpusHead') throw new Error('ogg: the first packet is not OpusHead');
  let samples = 0;
  const packets = audio.map((data) => {
    const ts = Math.round((samples * 1000) / OPUS_RATE);
    samples += opusPacketSamples(data);
    return { ts, data };
  });
  return {
    head, packets,
    sequenceStart: Buffer.concat([Buffer.from([0x90]), FOURCC, head]),
    frame: (i) => Buffer.concat([Buffer.from([0x91]), FOURCC, packets[i]!.data]),
  };
}

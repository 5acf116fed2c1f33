/**
 * node-media-server 4.4 (a devDependency) as the baseline: its own
 * CommonJS modules, loaded as they are, with just the types the benchmarks
 * touch. Nothing here patches its code; only callbacks it leaves abstract
 * are stubbed by the benchmarks.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const load = (path: string): unknown => require(`node-media-server/src/${path}`);

/** core/avpacket.js: what NMS's parsers emit and its fan-out consumes. */
export interface NmsAvPacket {
  codec_id: number;
  /** FLV tag type: 8 audio, 9 video, 18 script. */
  codec_type: number;
  /** 0 audio SH, 1 audio, 2 video SH, 3 key frame, 4 inter frame, 5 metadata. */
  flags: number;
  pts: number;
  dts: number;
  size: number;
  data: Buffer;
}

/** protocol/rtmp.js: handshake, chunk parsing, commands and message creation in one class. */
export interface NmsRtmp {
  /** 3 (RTMP_HANDSHAKE_2) once C0/C1/C2 are in: parserData then goes straight to chunkRead. */
  handshakeState: number;
  inChunkSize: number;
  parserData(buffer: Buffer): string | null;
  onPacketCallback: (packet: NmsAvPacket) => void;
  onOutputCallback: (buffer: Buffer) => void;
}
export const RTMP_HANDSHAKE_DONE = 3;

export const NmsRtmp = load('protocol/rtmp.js') as {
  new (): NmsRtmp;
  /** One packet as fmt 0 chunks; the chunk size is fixed at 65535 (RTMP_MAX_CHUNK_SIZE). */
  createMessage(packet: NmsAvPacket): Buffer;
};
export const NMS_OUT_CHUNK_SIZE = 0xffff;

export const NmsFlv = load('protocol/flv.js') as {
  /** One FLV tag (header + data + PreviousTagSize) in a fresh Buffer. */
  createMessage(packet: NmsAvPacket): Buffer;
  /** Classifies a tag body into an AVPacket (what chunk parsing hands on). */
  parserTag(type: number, time: number, size: number, data: Buffer): NmsAvPacket;
};

export const NmsAmf = load('protocol/amf.js') as {
  decodeAmf0Cmd(buf: Buffer): Record<string, unknown>;
  encodeAmf0Cmd(opt: Record<string, unknown>): Buffer;
  decodeAmf0Data(buf: Buffer): Record<string, unknown>;
  encodeAmf0Data(opt: Record<string, unknown>): Buffer;
};

/** A subscriber as server/broadcast_server.js sees one: a protocol and a sendBuffer (a socket.write each). */
export interface NmsSubscriber {
  protocol: 'rtmp' | 'flv';
  sendBuffer(buffer: Buffer): void;
}

export const NmsBroadcastServer = load('server/broadcast_server.js') as {
  new (streamPath: string): {
    subscribers: Map<string, NmsSubscriber>;
    /** Builds the FLV and RTMP forms of a packet once, updates caches, sends to every subscriber. */
    broadcastMessage(packet: NmsAvPacket): void;
  };
};

/** An AVPacket for a message the way NMS's parser makes one. */
export function nmsPacket(type: number, timestamp: number, body: Buffer): NmsAvPacket {
  return NmsFlv.parserTag(type, timestamp, body.length, body);
}

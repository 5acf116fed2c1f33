/**
 * Chunking messages for the wire: MB/s of media bodies turned into RTMP
 * chunks, over the same publish mix as chunk-reader (fixtures.ts).
 *
 * - encodeMessage: stateless fmt 0 chunks in one Buffer sized first, the
 *   form shared by every RTMP player (server/rtmp-egress.ts).
 * - ChunkWriter.encode: a session's writer with fmt 1/2/3 compression.
 *
 * At 4096 and 60000 (the server's default outChunkSize) the baseline is a
 * naive writer that builds a header Buffer per chunk and Buffer.concat's
 * them with the payload slices. node-media-server's Rtmp.createMessage
 * always chunks at 65535 (its RTMP_MAX_CHUNK_SIZE), so it gets its own
 * point at 65535, on its own chunk streams (4 audio / 5 video / 6 data)
 * and message stream 0, so both sides write the same bytes.
 */
import { ChunkWriter, encodeMessage } from '../../src/protocol/chunk-writer.js';
import { TagType, type MessageHeader } from '../../src/protocol/types.js';
import { point, same, sink, type Bench, type Contender, type Row } from '../bench.js';
import { bodyBytes, mediaMix, PUBLISH_CSID, PUBLISH_STREAM_ID, type MediaMessage } from '../fixtures.js';
import { NMS_OUT_CHUNK_SIZE, nmsPacket, NmsRtmp } from '../nms.js';

/** Baseline: one small header Buffer per chunk, joined with the payload slices. */
function naiveEncode(h: MessageHeader, payload: Buffer, chunkSize: number): Buffer {
  const parts: Buffer[] = [];
  const first = Buffer.alloc(12);
  first[0] = h.csid;
  first.writeUIntBE(h.timestamp, 1, 3);
  first.writeUIntBE(payload.length, 4, 3);
  first[7] = h.type;
  first.writeUInt32LE(h.streamId, 8);
  parts.push(first);
  for (let p = 0; p < payload.length; p += chunkSize) {
    if (p > 0) parts.push(Buffer.from([0xc0 | h.csid]));
    parts.push(payload.subarray(p, p + chunkSize));
  }
  return Buffer.concat(parts);
}

const headerOf = (m: MediaMessage, csid: number, streamId: number): MessageHeader => ({
  csid, type: m.type, timestamp: m.timestamp, length: m.body.length, streamId,
});

function run(): Row[] {
  const mix = mediaMix();
  const unit = { label: 'MB/s', perOp: bodyBytes(mix) / 1e6 };
  const publish = mix.map((m) => headerOf(m, m.type === TagType.Video ? PUBLISH_CSID.video : PUBLISH_CSID.other, PUBLISH_STREAM_ID));
  const rows: Row[] = [];

  for (const chunkSize of [4096, 60000]) {
    const writer = new ChunkWriter(chunkSize);
    for (let i = 0; i < mix.length; i++) {
      same(`naive and sluice chunks of message ${i} at ${chunkSize}`,
        naiveEncode(publish[i]!, mix[i]!.body, chunkSize).toString('hex'),
        encodeMessage(publish[i]!, mix[i]!.body, chunkSize).toString('hex'));
    }
    const contenders: Contender[] = [
      { name: 'encodeMessage (fmt 0, shared egress)', side: 'sluice', op: () => { for (let i = 0; i < mix.length; i++) sink.value += encodeMessage(publish[i]!, mix[i]!.body, chunkSize).length; } },
      { name: 'ChunkWriter.encode (compressed)', side: 'sluice', op: () => { for (let i = 0; i < mix.length; i++) sink.value += writer.encode(publish[i]!, mix[i]!.body).length; } },
      { name: 'naive: header per chunk + Buffer.concat', side: 'baseline', op: () => { for (let i = 0; i < mix.length; i++) sink.value += naiveEncode(publish[i]!, mix[i]!.body, chunkSize).length; } },
    ];
    rows.push(...point('chunk-writer', `chunk size ${chunkSize}`, unit, contenders));
  }

  // node-media-server's chunk streams and message stream for its egress.
  const nmsCsid = (type: number) => (type === TagType.Audio ? 4 : type === TagType.Video ? 5 : 6);
  const nmsHeaders = mix.map((m) => headerOf(m, nmsCsid(m.type), 0));
  const packets = mix.map((m) => nmsPacket(m.type, m.timestamp, m.body));
  for (let i = 0; i < mix.length; i++) {
    same(`NMS and sluice chunks of message ${i}`,
      NmsRtmp.createMessage(packets[i]!).toString('hex'),
      encodeMessage(nmsHeaders[i]!, mix[i]!.body, NMS_OUT_CHUNK_SIZE).toString('hex'));
  }
  rows.push(...point('chunk-writer', `chunk size ${NMS_OUT_CHUNK_SIZE}`, unit, [
    { name: 'encodeMessage', side: 'sluice', op: () => { for (let i = 0; i < mix.length; i++) sink.value += encodeMessage(nmsHeaders[i]!, mix[i]!.body, NMS_OUT_CHUNK_SIZE).length; } },
    { name: 'node-media-server Rtmp.createMessage', side: 'baseline', op: () => { for (let i = 0; i < mix.length; i++) sink.value += NmsRtmp.createMessage(packets[i]!).length; } },
  ]));
  return rows;
}

export const bench: Bench = {
  name: 'chunk-writer',
  title: 'encodeMessage / ChunkWriter vs a concat writer and node-media-server createMessage (MB/s of media)',
  run,
};

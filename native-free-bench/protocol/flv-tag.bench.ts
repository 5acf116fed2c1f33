/**
 * Making FLV tags (header + body + PreviousTagSize) of the publish mix's
 * messages, MB/s of bodies tagged:
 *
 * - encodeTag: a tag in a fresh Buffer (sticky tags, FLV egress of tags
 *   held outside the ring), against node-media-server's Flv.createMessage,
 *   which every published packet goes through (server/broadcast_server.js).
 * - TagRing reserve + commit: the ingest path. The chunk reader has already
 *   copied the body into the ring (charged in chunk-reader), so making the
 *   tag is writing its 11-byte header and 4-byte trailer in place and
 *   publishing the index slot. NMS at this step allocates and copies the
 *   body again (its parser's buffer is reused), which is what it is
 *   compared with.
 *
 * Both write the same bytes: checked first.
 */
import { newRecordView, TagRing } from '../../src/core/tag-ring.js';
import { encodeTag } from '../../src/protocol/flv-tag.js';
import { point, same, sink, type Bench, type Row } from '../bench.js';
import { bodyBytes, mediaMix, RING_BYTES } from '../fixtures.js';
import { nmsPacket, NmsFlv } from '../nms.js';

function run(): Row[] {
  const mix = mediaMix();
  const unit = { label: 'MB/s', perOp: bodyBytes(mix) / 1e6 };
  const packets = mix.map((m) => nmsPacket(m.type, m.timestamp, m.body));
  const rows: Row[] = [];

  const ring = TagRing.create(new SharedArrayBuffer(RING_BYTES));
  const v = newRecordView();
  for (let i = 0; i < mix.length; i++) {
    const m = mix[i]!;
    const nms = NmsFlv.createMessage(packets[i]!).toString('hex');
    same(`encodeTag and NMS tag ${i}`, encodeTag(m.type, m.timestamp, m.body).toString('hex'), nms);
    const at = ring.append(m.type, m.timestamp, 0, m.body);
    ring.read(at, v);
    same(`ring and NMS tag ${i}`, Buffer.from(ring.data.subarray(v.offset, v.offset + v.length)).toString('hex'), nms);
  }

  rows.push(...point('flv-tag', 'tag in a new Buffer', unit, [
    { name: 'encodeTag', side: 'sluice', op: () => { for (const m of mix) sink.value += encodeTag(m.type, m.timestamp, m.body).length; } },
    { name: 'node-media-server Flv.createMessage', side: 'baseline', op: () => { for (const p of packets) sink.value += NmsFlv.createMessage(p).length; } },
  ]));

  rows.push(...point('flv-tag', 'tag around a body already received', unit, [
    {
      name: 'TagRing reserve + commit (in place)',
      side: 'sluice',
      op: () => {
        for (const m of mix) {
          ring.reserve(m.body.length);
          sink.value += ring.commit(m.type, m.timestamp, 0);
        }
      },
    },
    { name: 'node-media-server Flv.createMessage', side: 'baseline', op: () => { for (const p of packets) sink.value += NmsFlv.createMessage(p).length; } },
  ]));

  return rows;
}

export const bench: Bench = {
  name: 'flv-tag',
  title: 'FLV tags: encodeTag and the ring\'s in-place header vs node-media-server Flv.createMessage (MB/s of bodies)',
  run,
};

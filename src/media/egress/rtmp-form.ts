/**
 * The RTMP egress form: a ring record as fmt-0 chunks on a fixed chunk
 * stream per media type. fmt 0 carries the absolute timestamp, so the same
 * bytes are right for every player regardless of what it received before.
 */
import type { RecordView, TagRing } from '../../core/tag-ring.js';
import { chunkedSize, writeChunks } from '../../protocol/chunk-writer.js';
import { TagType } from '../../protocol/types.js';
import type { EgressForm } from '../types.js';

/**
 * Chunk streams used only by egress (never by a session's compressed
 * writer, whose per-stream header state they would otherwise corrupt).
 */
export const EGRESS_CSID = { audio: 4, video: 6, data: 7 } as const;

function csidFor(type: number): number {
  return type === TagType.Audio ? EGRESS_CSID.audio : type === TagType.Video ? EGRESS_CSID.video : EGRESS_CSID.data;
}

class RtmpEgressForm implements EgressForm {
  readonly id: string;
  // fmt 0 bytes are shared, so a player's timeline is the stream's; only the opening tags can be put at 0,
  // which librtmp (rtmpdump, GStreamer rtmpsrc) needs: it sets its FLV header's audio/video flags from
  // what arrives before the first non-zero timestamp.
  readonly opensAtZero = true;

  constructor(
    readonly streamId: number,
    readonly chunkSize: number,
  ) {
    this.id = `rtmp:${streamId}:${chunkSize}`;
  }

  build(ring: TagRing, rec: RecordView): Buffer {
    return this.buildSticky(rec.type, rec.timestamp, ring.body(rec));
  }

  buildSticky(type: number, timestamp: number, body: Uint8Array): Buffer {
    const csid = csidFor(type);
    const ts = timestamp >>> 0;
    const out = Buffer.allocUnsafe(chunkedSize(csid, 0, body.length, ts, this.chunkSize));
    writeChunks(out, 0, 0, { csid, type, timestamp: ts, length: body.length, streamId: this.streamId }, ts, body, this.chunkSize);
    return out;
  }
}

/**
 * The form for a message stream id and chunk size. Players of one form
 * share one egress cache (a stream's caches are keyed by form id, and
 * dropped with their last player); the id is one sluice assigned in
 * createStream (net-connection.ts), so players share it in practice: 1.
 */
export function rtmpEgressForm(streamId: number, chunkSize: number): EgressForm {
  return new RtmpEgressForm(streamId, chunkSize);
}

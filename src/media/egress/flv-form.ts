/**
 * FLV egress for HTTP-FLV and WS-FLV players. The shared form of a tag is
 * the complete FLV tag as the ring stores it (one copy out of the ring per
 * tag per worker). Each player needs timestamps starting at 0, so it sends
 * its own 11-byte tag header (from a per-player scratch buffer) followed by
 * the shared tail (body + PreviousTagSize): the shared bytes are never
 * touched and no per-tag allocation is made per player.
 */
import type { RecordView, TagRing } from '../../core/tag-ring.js';
import { encodeTag, TAG_HEADER_SIZE } from '../../protocol/flv-tag.js';
import type { EgressForm } from '../types.js';

export const flvForm: EgressForm = {
  id: 'flv',
  build(ring: TagRing, rec: RecordView): Buffer {
    return Buffer.from(ring.data.subarray(rec.offset, rec.offset + rec.length));
  },
  buildSticky(type: number, timestamp: number, body: Uint8Array): Buffer {
    return encodeTag(type, timestamp, body);
  },
};

/** Tails (bytes after the tag header) of shared tags, made once per tag. */
const tails = new WeakMap<Buffer, Buffer>();

function tailOf(tag: Buffer): Buffer {
  let t = tails.get(tag);
  if (!t) {
    t = tag.subarray(TAG_HEADER_SIZE);
    tails.set(tag, t);
  }
  return t;
}

/** Per-player timestamp rebasing: the player's first tag is at 0, later ones relative to it. */
export class FlvRebaser {
  private base: number | undefined;
  private readonly header = Buffer.alloc(TAG_HEADER_SIZE);

  /**
   * Calls `emit` with the player's header for `tag` (a scratch buffer:
   * consume it before the next call) and then the shared tail.
   */
  each(tag: Buffer, emit: (chunk: Buffer) => void): void {
    const ts = (tag[4]! << 16) | (tag[5]! << 8) | tag[6]! | (tag[7]! << 24);
    this.base ??= ts >>> 0;
    // Audio interleaved just before the first keyframe may precede the base: clamp at 0.
    const rel = Math.max(0, (ts >>> 0) - this.base);
    const h = this.header;
    tag.copy(h, 0, 0, 4);
    h[4] = rel >>> 16;
    h[5] = rel >>> 8;
    h[6] = rel;
    h[7] = rel >>> 24;
    h[8] = 0;
    h[9] = 0;
    h[10] = 0;
    emit(h);
    emit(tailOf(tag));
  }
}

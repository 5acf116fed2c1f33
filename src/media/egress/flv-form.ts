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
import { tsDiff } from '../timestamp.js';

export const flvForm: EgressForm = {
  id: 'flv',
  // FlvRebaser puts each player's first tag at 0: the sticky tags stay with the first frame.
  opensAtZero: false,
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

/**
 * Per-player timestamp rebasing: the player's first tag is at 0, later ones
 * relative to it. Relative time advances by each tag's 32-bit wrapping
 * distance from the one before, so a stream whose timestamps wrap (or start
 * near 2^32) keeps counting up instead of falling below the base.
 */
export class FlvRebaser {
  /** Stream timestamp of the previous tag, and its time relative to the first (may be < 0: see below). */
  private last: number | undefined;
  private rel = 0;
  private readonly header = Buffer.alloc(TAG_HEADER_SIZE);

  /**
   * Calls `emit` with the player's header for `tag` (a scratch buffer:
   * consume it before the next call) and then the shared tail.
   */
  each(tag: Buffer, emit: (chunk: Buffer) => void): void {
    const ts = ((tag[4]! << 16) | (tag[5]! << 8) | tag[6]! | (tag[7]! << 24)) >>> 0;
    this.rel = this.last === undefined ? 0 : this.rel + tsDiff(ts, this.last);
    this.last = ts;
    // Audio interleaved just before the first keyframe may precede it: clamp at 0. FLV time wraps at 2^32 too.
    const rel = Math.max(0, this.rel) >>> 0;
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

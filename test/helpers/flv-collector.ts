/**
 * An FLV byte stream as a player receives it: the raw bytes and the tags
 * demuxed from them.
 *
 *   46 4c 56 01 05 00000009 00000000   'FLV' v1, flags audio(04)|video(01), DataOffset 9, PreviousTagSize0
 *   tag: type u8 | DataSize u24 | Timestamp u24 | TimestampExtended u8 | StreamID u24 | data | PreviousTagSize u32
 */
import { FlvDemuxer } from '../../src/protocol/flv-tag.js';
import { counterOf } from './synthetic-media.js';

export interface FlvTag {
  type: number;
  ts: number;
  data: Buffer;
}

export class FlvCollector {
  readonly chunks: Buffer[] = [];
  readonly tags: FlvTag[] = [];
  /** Bytes received so far. */
  byteLength = 0;
  private readonly demux = new FlvDemuxer();

  push(b: Buffer): void {
    this.chunks.push(b);
    this.byteLength += b.length;
    for (const t of this.demux.push(b)) this.tags.push({ type: t.type, ts: t.timestamp, data: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.length) });
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** TypeFlags of the file header (04 audio | 01 video). */
  get flags(): number | undefined {
    return this.chunks.length > 0 ? this.bytes()[4] : undefined;
  }

  /** Whether a tag of `type` carrying synthetic frame counter `n` is in. */
  has(type: number, n: number): boolean {
    return this.tags.some((t) => t.type === type && counterOf(t) === n);
  }
}

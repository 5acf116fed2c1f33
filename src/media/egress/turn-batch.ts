/**
 * The tags between two ring positions as one batch of a form's egress
 * bytes, read once and shared by every player whose cursor stood at the
 * start of it. In steady state every player of a stream is at the same
 * place each turn (the previous head), so the ring records, cache lookups
 * and lag inputs of a turn are worked out once instead of once per player
 * (the per-player pump was the worker's largest JavaScript cost at
 * hundreds of players: docs/performance.md).
 */
import { newRecordView, seqBefore, type TagRing } from '../../core/tag-ring.js';
import { stickyKindOf } from '../sticky-plan.js';
import type { EgressSource, SharedBatch } from '../types.js';

/** The fields are described on SharedBatch. */
export class TurnBatch implements SharedBatch {
  from = 0;
  to = 0;
  ok = false;
  readonly bufs: Buffer[] = [];
  readonly arrivals: number[] = [];
  bytes = 0;
  lastBytes = 0;
  readonly sticky: [number, number, number] = [0, 0, 0];
  stickyMask = 0;
  startCum = 0;
  startTs = 0;
  private readonly rec = newRecordView();

  /**
   * Fills the batch with [from, to) of `ring` through `source`. It gives up
   * (ok false) once the tags before the last reach `maxBytes`: no player
   * under that high-water mark could take it whole, and a lagging player's
   * backlog must not be read and built here on every pump.
   */
  fill(ring: TagRing, source: EgressSource, from: number, to: number, maxBytes: number): this {
    this.from = from;
    this.to = to;
    this.bufs.length = 0;
    this.arrivals.length = 0;
    this.bytes = 0;
    this.lastBytes = 0;
    this.stickyMask = 0;
    this.ok = false;
    const rec = this.rec;
    for (let seq = from; seqBefore(seq, to); seq = (seq + 1) | 0) {
      if (this.bytes >= maxBytes || !ring.read(seq, rec)) return this;
      if (seq === from) {
        this.startCum = rec.cumBytes - rec.length;
        this.startTs = rec.timestamp;
      }
      const buf = source.get(rec);
      if (!buf) return this;
      const kind = stickyKindOf(rec.type, rec.flags);
      if (kind >= 0) {
        this.sticky[kind] = rec.seq;
        this.stickyMask |= 1 << kind;
      }
      this.bufs.push(buf);
      this.arrivals.push(rec.arrival);
      this.bytes += buf.length;
      this.lastBytes = buf.length;
    }
    this.ok = this.bufs.length > 0;
    return this;
  }
}

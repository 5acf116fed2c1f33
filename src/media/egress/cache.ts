/**
 * Egress bytes per ring record for one form, built on first use and shared
 * by every player of that form. Indexed like the ring's index (seq mod
 * capacity), so memory is bounded by one ring's worth of tags.
 */
import type { RecordView, TagRing } from '../../core/tag-ring.js';
import type { EgressForm, EgressSource } from '../types.js';
import { TurnBatch } from './turn-batch.js';

export class EgressCache implements EgressSource {
  private readonly seqs: Int32Array;
  private readonly bufs: (Buffer | undefined)[];
  private readonly mask: number;
  builds = 0;
  private readonly turn = new TurnBatch();

  constructor(
    readonly form: EgressForm,
    private readonly ring: TagRing,
  ) {
    this.seqs = new Int32Array(ring.indexCap);
    this.bufs = new Array(ring.indexCap);
    this.mask = ring.indexCap - 1;
  }

  /** Egress bytes of `rec`, or undefined when the writer lapped it during the copy. */
  get(rec: RecordView): Buffer | undefined {
    const i = rec.seq & this.mask;
    const hit = this.bufs[i];
    if (hit !== undefined && this.seqs[i] === rec.seq) return hit;
    const buf = this.form.build(this.ring, rec);
    // The copy is whole only if the record was not retired meanwhile (cross-thread writers).
    if (!this.ring.intact(rec.seq)) return undefined;
    this.bufs[i] = buf;
    this.seqs[i] = rec.seq;
    this.builds++;
    return buf;
  }

  /** The tags [from, to) as one batch shared by every player at `from` (turn-batch.ts); made once per span, given up past `maxBytes`. */
  batch(from: number, to: number, maxBytes: number): TurnBatch {
    const b = this.turn;
    if (b.from !== from || b.to !== to) b.fill(this.ring, this, from, to, maxBytes);
    return b;
  }
}

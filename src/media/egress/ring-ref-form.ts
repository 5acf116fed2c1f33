/**
 * An egress form whose "bytes" are a reference to the ring record, not a
 * copy of it: for a consumer that reads media straight out of the shared
 * ring itself (HLS: its segments are built from ring views, and whoever
 * builds them checks the record was not lapped meanwhile). Sticky tags
 * live outside the ring, so theirs carry the body.
 *
 *   Int32 words: 0 seq | 1 offset in ring.data | 2 tag length | 3 type | flags << 8
 *                4 timestamp | 5 HLS cut mark | 6 arrival (low 31 bits) | 7 kind
 *   kind 1 (sticky): the tag body follows the 32 bytes; seq/offset are -1.
 *
 * A new reader starts `segmentsBack` HLS segment starts (cut marks) before
 * the live edge, as far as the ring still holds them: a playlist then has a
 * window at once instead of filling one segment at a time.
 */
import { newRecordView, seqBefore, type RecordView, type TagRing } from '../../core/tag-ring.js';
import type { EgressForm } from '../types.js';

const BYTES = 32;
const KIND_RECORD = 0;
const KIND_STICKY = 1;

/** A record's index fields (seq -1 and offset -1 for a sticky tag, held outside the ring), and a sticky tag's body. */
export interface RingRef extends Omit<RecordView, 'cumBytes'> {
  body: Uint8Array | undefined;
}

export const RING_REF_FORM_ID = 'ring-ref';

export function ringRefForm(segmentsBack: number): EgressForm {
  return { id: RING_REF_FORM_ID, opensAtZero: false, build, buildSticky, startAt: (ring) => markBack(ring, segmentsBack) };
}

/** The seq of the `back`-th last marked record in the ring (the oldest one when it holds fewer). */
function markBack(ring: TagRing, back: number): number | undefined {
  const rec = newRecordView();
  const found: number[] = [];
  const head = ring.head();
  for (let seq = ring.tail(); seqBefore(seq, head); seq = (seq + 1) | 0) {
    if (!ring.read(seq, rec) || rec.mark === 0) continue;
    found.push(seq);
    if (found.length > back) found.shift();
  }
  return found[0];
}

function build(_ring: TagRing, rec: RecordView): Buffer {
  const b = Buffer.allocUnsafe(BYTES);
  b.writeInt32LE(rec.seq, 0);
  b.writeInt32LE(rec.offset, 4);
  b.writeInt32LE(rec.length, 8);
  b.writeInt32LE((rec.type & 0xff) | ((rec.flags & 0xff) << 8), 12);
  b.writeInt32LE(rec.timestamp | 0, 16);
  b.writeInt32LE(rec.mark, 20);
  b.writeInt32LE(rec.arrival, 24);
  b.writeInt32LE(KIND_RECORD, 28);
  return b;
}

function buildSticky(type: number, timestamp: number, body: Uint8Array): Buffer {
  const b = Buffer.alloc(BYTES + body.length);
  b.writeInt32LE(-1, 0);
  b.writeInt32LE(-1, 4);
  b.writeInt32LE(body.length + 15, 8);
  b.writeInt32LE(type & 0xff, 12);
  b.writeInt32LE(timestamp | 0, 16);
  b.writeInt32LE(KIND_STICKY, 28);
  b.set(body, BYTES);
  return b;
}

/** Reads a ringRefForm buffer. */
export function readRingRef(b: Buffer): RingRef {
  const sticky = b.readInt32LE(28) === KIND_STICKY;
  const info = b.readInt32LE(12);
  return {
    seq: b.readInt32LE(0),
    offset: b.readInt32LE(4),
    length: b.readInt32LE(8),
    type: info & 0xff,
    flags: (info >>> 8) & 0xff,
    timestamp: b.readInt32LE(16) >>> 0,
    mark: b.readInt32LE(20),
    arrival: b.readInt32LE(24),
    body: sticky ? b.subarray(BYTES) : undefined,
  };
}

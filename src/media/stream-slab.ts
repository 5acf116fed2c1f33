/**
 * Everything about a live stream that players on any thread need, in one
 * SharedArrayBuffer slab, so a stream can be read from another worker and
 * can outlive the worker that published it:
 *
 *   0        64                           64 + 3 * (16 + STICKY_SLOT_BYTES)        slab end
 *   +--------+------------------------------+-------------------------------------+
 *   | header | sticky: metadata, video SH,   | tag ring (core/tag-ring.ts)         |
 *   |        | audio SH (seqlocked slots)    |                                     |
 *   +--------+------------------------------+-------------------------------------+
 *
 *   header (Int32)                     sticky slot header (Int32), then body bytes
 *   0 STICKY_VERSION bumped per change 0 SEQ   seqlock: odd while being written
 *   1 HAS_VIDEO                        1 LEN   body length (0 = absent)
 *   2 HAS_AUDIO                        2 TS    timestamp of the tag
 *   3 LATEST_TS  max timestamp out     3 RSEQ  ring seq of its in-band record
 *   4 HAS_TS     1 once LATEST_TS is set
 *
 * Sticky slots use a seqlock: the writer makes SEQ odd, writes, makes it
 * even again, then bumps STICKY_VERSION; a reader copies between two loads
 * of SEQ and keeps the copy only if both are the same even value.
 */
import { SluiceError } from '../core/errors.js';
import { TagRing } from '../core/tag-ring.js';
import type { StickyTag, StickyTags } from './types.js';

const HEADER_BYTES = 64;
const H_STICKY_VERSION = 0;
const H_HAS_VIDEO = 1;
const H_HAS_AUDIO = 2;
const H_LATEST_TS = 3;
const H_HAS_TS = 4;

/** Room for one sticky tag; onMetaData and HEVC/AV1 configs fit with margin. */
export const STICKY_SLOT_BYTES = 64 * 1024;
const SLOT_HEADER = 16;
const SLOT_BYTES = SLOT_HEADER + STICKY_SLOT_BYTES;
export const StickySlot = { Metadata: 0, VideoHeader: 1, AudioHeader: 2 } as const;
const RING_BASE = HEADER_BYTES + 3 * SLOT_BYTES;

export class StreamSlab {
  readonly header: Int32Array;
  readonly ring: TagRing;
  private readonly slotHeads: Int32Array[] = [];
  private readonly slotBodies: Uint8Array[] = [];
  private cached: StickyTags = { version: -1 };

  constructor(readonly sab: SharedArrayBuffer) {
    this.header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    for (let i = 0; i < 3; i++) {
      const at = HEADER_BYTES + i * SLOT_BYTES;
      this.slotHeads.push(new Int32Array(sab, at, SLOT_HEADER / 4));
      this.slotBodies.push(new Uint8Array(sab, at + SLOT_HEADER, STICKY_SLOT_BYTES));
    }
    this.ring = TagRing.attach(sab, RING_BASE);
  }

  /** Formats a fresh (or recycled) slab as an empty stream. */
  static format(sab: SharedArrayBuffer): void {
    if (sab.byteLength < RING_BASE + 64 * 1024) {
      throw new SluiceError('ERR_CONFIG', `stream slab of ${sab.byteLength} bytes is too small (min ${RING_BASE + 64 * 1024})`);
    }
    new Uint8Array(sab, 0, RING_BASE).fill(0);
    TagRing.create(sab, RING_BASE);
  }

  // ---- writer (the stream's home worker) ------------------------------------

  /**
   * Stores a sticky tag whose in-band copy is ring record `ringSeq`. One
   * larger than a slot empties the slot (false): it goes in-band only, and
   * an older copy must not stand in for it.
   */
  writeSticky(slot: number, timestamp: number, body: Uint8Array, ringSeq: number): boolean {
    const fits = body.length <= STICKY_SLOT_BYTES;
    const h = this.slotHeads[slot]!;
    const seq = h[0]!;
    Atomics.store(h, 0, seq + 1);
    if (fits) this.slotBodies[slot]!.set(body);
    h[1] = fits ? body.length : 0;
    h[2] = timestamp | 0;
    h[3] = ringSeq | 0;
    Atomics.store(h, 0, seq + 2);
    Atomics.add(this.header, H_STICKY_VERSION, 1);
    return fits;
  }

  markTrack(video: boolean): void {
    Atomics.store(this.header, video ? H_HAS_VIDEO : H_HAS_AUDIO, 1);
  }

  setLatestTimestamp(ts: number): void {
    Atomics.store(this.header, H_LATEST_TS, ts | 0);
    Atomics.store(this.header, H_HAS_TS, 1);
  }

  // ---- readers (any thread) -------------------------------------------------

  get hasVideo(): boolean {
    return Atomics.load(this.header, H_HAS_VIDEO) !== 0;
  }

  get hasAudio(): boolean {
    return Atomics.load(this.header, H_HAS_AUDIO) !== 0;
  }

  /** Latest timestamp handed to players, or undefined before the first tag. */
  latestTimestamp(): number | undefined {
    return Atomics.load(this.header, H_HAS_TS) === 0 ? undefined : Atomics.load(this.header, H_LATEST_TS) >>> 0;
  }

  /** The sticky tags, re-read only when their version moved. */
  sticky(): StickyTags {
    const version = Atomics.load(this.header, H_STICKY_VERSION);
    if (version === this.cached.version) return this.cached;
    const next: StickyTags = { version };
    const slots = ['metadata', 'videoHeader', 'audioHeader'] as const;
    for (let i = 0; i < 3; i++) {
      const tag = this.readSlot(i);
      if (tag === null) return this.cached; // a write in progress: try again next pump
      if (tag) next[slots[i]!] = tag;
    }
    this.cached = next;
    return next;
  }

  /** One slot's copy; undefined when empty, null when it kept changing under us. */
  private readSlot(i: number): StickyTag | undefined | null {
    const h = this.slotHeads[i]!;
    for (let attempt = 0; attempt < 64; attempt++) {
      const before = Atomics.load(h, 0);
      if (before & 1) continue;
      const len = h[1]!;
      const ts = h[2]! >>> 0;
      const seq = h[3]!;
      const body = len > 0 ? Buffer.from(this.slotBodies[i]!.subarray(0, len)) : undefined;
      if (Atomics.load(h, 0) !== before) continue;
      return body && { timestamp: ts, body, seq };
    }
    return null;
  }
}

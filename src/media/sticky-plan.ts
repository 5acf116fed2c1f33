/**
 * Which sticky tags (metadata, video and audio sequence headers) a player
 * needs copies of when it starts or jumps to a ring position, and where it
 * may start. The tags in force at position P are the latest of each kind
 * written before P. The slab keeps only the latest of each kind, which is
 * the one in force unless it was written at or after P; then the older one
 * is looked for in the ring, and if the ring no longer holds it, the player
 * starts at the newer one's record instead (and waits for the next
 * keyframe), since frames before it cannot be decoded with what is known.
 */
import { newRecordView, seqBefore, TagFlag, type TagRing } from '../core/tag-ring.js';
import { TagType } from '../protocol/types.js';
import type { StickyTag, StreamView } from './types.js';

export interface StickyCopy {
  /** Index of its kind: 0 metadata, 1 video header, 2 audio header. */
  kind: number;
  type: number;
  timestamp: number;
  body: Buffer;
  /** Ring seq of the record it copies. */
  seq: number;
}

export interface StickyPlan {
  /** Where the player's cursor goes. */
  seq: number;
  /** The target is the keyframe asked for (false: it moved to a sticky record). */
  isKey: boolean;
  copies: StickyCopy[];
}

const KINDS = [
  { type: TagType.Script, flag: TagFlag.Metadata, slot: 'metadata' },
  { type: TagType.Video, flag: TagFlag.SequenceHeader, slot: 'videoHeader' },
  { type: TagType.Audio, flag: TagFlag.SequenceHeader, slot: 'audioHeader' },
] as const;

/** Index into a player's held-sticky list of a ring record of a sticky kind, or -1. */
export function stickyKindOf(type: number, flags: number): number {
  if (flags & TagFlag.Metadata) return 0;
  if (!(flags & TagFlag.SequenceHeader)) return -1;
  return type === TagType.Video ? 1 : type === TagType.Audio ? 2 : -1;
}

const rec = newRecordView();

/** The latest record of `kind` in [tail, before), copied out of the ring; undefined when the ring holds none. */
function latestInRing(ring: TagRing, kind: number, before: number): StickyCopy | undefined {
  const k = KINDS[kind]!;
  for (let seq = (before - 1) | 0; !seqBefore(seq, ring.tail()); seq = (seq - 1) | 0) {
    if (!ring.read(seq, rec) || rec.type !== k.type || !(rec.flags & k.flag)) continue;
    const body = Buffer.from(ring.body(rec));
    if (!ring.intact(seq)) return undefined;
    return { kind, type: k.type, timestamp: rec.timestamp, body, seq };
  }
  return undefined;
}

/** Start at `target` (a keyframe, or `isKey` false), given the sticky records the player `held` (by kind). */
export function stickyPlan(stream: StreamView, target: number, isKey: boolean, held: readonly (number | undefined)[]): StickyPlan {
  const ring = stream.ring!;
  // Each round either settles or moves the target to a slot's record; there are three slots.
  for (let round = 0; round < KINDS.length + 1; round++) {
    const copies: StickyCopy[] = [];
    let moved = false;
    for (const [kind, k] of KINDS.entries()) {
      const tag: StickyTag | undefined = stream.sticky[k.slot];
      if (!tag || tag.seq === target) continue; // none known, or it is the first record the player reads
      let inForce: StickyCopy | undefined;
      if (seqBefore(tag.seq, target)) inForce = { kind, type: k.type, timestamp: tag.timestamp, body: tag.body, seq: tag.seq };
      else {
        inForce = latestInRing(ring, kind, target);
        if (!inForce) {
          target = tag.seq;
          isKey = false;
          moved = true;
          break;
        }
      }
      if (held[kind] !== inForce.seq) copies.push(inForce);
    }
    if (!moved) return { seq: target, isKey, copies };
  }
  return { seq: target, isKey, copies: [] };
}

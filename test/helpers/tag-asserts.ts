/**
 * Checks on the tags a player received against what a synthetic publisher
 * sent: any list of { type, ts, data } (RTMP media entries, demuxed FLV
 * tags, sent tags). Failures name the first differing tag and its counter.
 */
import assert from 'node:assert/strict';
import { counterOf } from './synthetic-media.js';

export interface TagLike {
  type: number;
  ts: number;
  data: Buffer;
}

const describe = (t: TagLike, ts = t.ts): string => `type ${t.type} ts ${ts} #${counterOf(t)} (${t.data.length} bytes)`;

/** Same type, timestamp (unless `timestamps: false`) and bytes, in order, and as many. */
export function assertSameTags(got: TagLike[], want: TagLike[], what: string, opts: { timestamps?: boolean } = {}): void {
  const checkTs = opts.timestamps ?? true;
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    const g = got[i]!;
    const w = want[i]!;
    const same = g.type === w.type && (!checkTs || g.ts === w.ts) && g.data.equals(w.data);
    assert.ok(same, `${what}: tag ${i} differs: got ${describe(g)}, want ${describe(w)}`);
  }
  assert.equal(got.length, want.length, `${what}: got ${got.length} tags, want ${want.length}`);
}

/**
 * Per tag: same type and bytes as `want` from index `from`, timestamps
 * relative to want[from] (each player's timeline starts at 0).
 */
export function assertRunOf(got: TagLike[], want: TagLike[], from: number, what: string): void {
  const base = want[from]!.ts;
  assert.ok(got.length > 0 && from + got.length <= want.length, `${what}: ${got.length} tags from #${from} of ${want.length}`);
  for (const [i, g] of got.entries()) {
    const w = want[from + i]!;
    assert.ok(g.type === w.type && g.ts === w.ts - base && g.data.equals(w.data), `${what}: tag ${i} is ${describe(g)}, want ${describe(w, w.ts - base)}`);
  }
}

/** Per track, timestamps never go back: the tracks of `types`, or of every type present. */
export function assertMonotonicPerTrack(tags: TagLike[], what: string, types?: number[]): void {
  const last = new Map<number, TagLike>();
  for (const [i, t] of tags.entries()) {
    if (types && !types.includes(t.type)) continue;
    const prev = last.get(t.type);
    if (prev) assert.ok(t.ts >= prev.ts, `${what}: type ${t.type} timestamp goes back from ${prev.ts} (#${counterOf(prev)}) to ${t.ts} (#${counterOf(t)}) at tag ${i}`);
    last.set(t.type, t);
  }
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateDecoder, StateEncoder } from '../../src/http/hls-wire.js';
import { sharedAlloc } from '../../src/http/hls-share.js';
import type { SharedState } from '../../src/http/hls-wire.js';
import type { HlsSegment } from '../../src/hls/segmenter.js';

const filled = (n: number, v: number): Buffer => {
  const b = sharedAlloc(n);
  b.fill(v);
  return b;
};

function segment(msn: number, parts: number, closed: boolean): HlsSegment {
  const ps = Array.from({ length: parts }, (_, index) => ({ msn, index, durationMs: 250, independent: index === 0, bytes: filled(10 + index, msn * 16 + index), built: true }));
  return {
    msn, startDts: msn * 1000, durationMs: parts * 250, programDateMs: 1_700_000_000_000 + msn * 1000, discontinuity: false, initVersion: 1, parts: ps,
    bytes: closed ? Buffer.concat(ps.map((p) => p.bytes)) : undefined,
  };
}

function state(segments: HlsSegment[], open: HlsSegment | undefined): SharedState {
  return {
    view: {
      segments, open, nextPart: { msn: (open ?? segments.at(-1)!).msn, index: open?.parts.length ?? 0 }, opts: { segmentMs: 1000, partMs: 250 },
      discontinuitySequence: 0, maxSegmentMs: 1000, ended: false,
    },
    ready: true, building: false, ended: false, endReason: undefined, unsupported: undefined, tracks: undefined, tsWhy: undefined,
    inits: [[1, 'abcd', filled(8, 0xee)]],
  };
}

/** Through structured cloning, as the BroadcastChannel carries it. */
const clone = <T>(x: T): T => structuredClone(x);

/** Byte arrays a wire state carries. */
function countBytes(w: unknown): number {
  if (w instanceof Uint8Array) return 1;
  if (Array.isArray(w)) return w.reduce((n: number, x) => n + countBytes(x), 0);
  if (w && typeof w === 'object') return Object.values(w).reduce((n: number, x) => n + countBytes(x), 0);
  return 0;
}

test('states go as deltas: each byte array once, by key after that; the mirror rebuilds the same view', () => {
  const enc = new StateEncoder();
  const dec = new StateDecoder();
  const s1 = state([segment(0, 4, true)], segment(1, 1, false));
  const w1 = enc.encode(s1, 0)!;
  assert.equal(countBytes(w1), 4 + 1 + 1 + 1, 'the first state carries every array: 4 parts + segment, the open part, the init');
  const got1 = dec.decode(clone(w1))!;
  assert.ok(got1.view.segments[0]!.bytes!.equals(s1.view.segments[0]!.bytes!));
  assert.ok(got1.view.open!.parts[0]!.bytes.equals(s1.view.open!.parts[0]!.bytes));

  assert.equal(enc.encode(s1, 0), undefined, 'the same state again is not sent');

  const s2 = state([segment(0, 4, true)], { ...s1.view.open!, parts: [...s1.view.open!.parts, segment(1, 2, false).parts[1]!] });
  const w2 = enc.encode(s2, 0)!;
  assert.equal(countBytes(w2), 1, 'only the new part travels');
  const got2 = dec.decode(clone(w2))!;
  assert.equal(got2.view.open!.parts.length, 2);
  assert.ok(got2.view.open!.parts[1]!.bytes.equals(s2.view.open!.parts[1]!.bytes));
  assert.ok(got2.view.segments[0]!.bytes!.equals(s1.view.segments[0]!.bytes!), 'the earlier ones from its cache');
  assert.ok(got2.inits[0]![2].length === 8);
});

test('a mirror missing a key gets nothing until a full state; a restarted segmenter sends its bytes again', () => {
  const enc = new StateEncoder();
  const s1 = state([segment(0, 4, true)], undefined);
  enc.encode(s1, 0);
  const s2 = state([segment(0, 4, true), segment(1, 4, true)], undefined);
  const late = new StateDecoder();
  assert.equal(late.decode(clone(enc.encode(s2, 0)!)), undefined, 'a mirror that missed the first state cannot use the delta');
  enc.resend();
  const full = enc.encode(s2, 0)!;
  assert.equal(countBytes(full), 2 * 5 + 1);
  assert.equal(late.decode(clone(full))!.view.segments.length, 2);
  assert.equal(countBytes(enc.encode(s2, 1)!), 2 * 5 + 1, 'generation 1 names new bytes under the same numbers');
});

/**
 * An owner's state on the wire to its mirrors (hls-share.ts), sent as
 * deltas: each byte array goes once, under a key naming what it is (the
 * owner's segmenter generation, the segment, the part, joined or not),
 * and later messages name it by key alone. Cloning a shared-memory view
 * costs about as much as a small copy, and a state lists the whole window,
 * so sending every view each time cost more CPU than the mirror saved by
 * not segmenting. A state that would read the same as the last one sent
 * is not sent at all. A mirror missing a key (it came after that byte
 * array went) asks for a full state, which every mirror then takes.
 */
import type { PlaylistSource } from '../hls/playlist.js';
import type { HlsPart, HlsSegment, StreamTracks } from '../hls/segmenter.js';

/** An owner's playlist state as a mirror reads it; every byte array is a view of shared memory. */
export interface SharedState {
  view: PlaylistSource;
  ready: boolean;
  building: boolean;
  ended: boolean;
  endReason: string | undefined;
  unsupported: string | undefined;
  tracks: StreamTracks | undefined;
  /** Why the stream has no MPEG-TS form, as the owner sees it. */
  tsWhy: string | undefined;
  /** The init segments the listed segments name: [version, name, bytes]. */
  inits: [number, string, Buffer][];
}

/** A byte array by key; `b` is there the first time the key is sent (or in a full state). */
interface WireBytes {
  k: string;
  b?: Uint8Array;
}

type WirePart = Omit<HlsPart, 'bytes' | 'ts'> & { bytes: WireBytes | undefined; ts: WireBytes | undefined };
type WireSegment = Omit<HlsSegment, 'bytes' | 'ts' | 'parts'> & { bytes: WireBytes | undefined; ts: WireBytes | undefined; parts: WirePart[] };
type WireView = Omit<PlaylistSource, 'segments' | 'open'> & { segments: WireSegment[]; open: WireSegment | undefined };

export type WireState = Omit<SharedState, 'view' | 'inits'> & { view: WireView; inits: [number, string, WireBytes][] };

/** The owner's side: what it sent, and the last state's signature. */
export class StateEncoder {
  private sent = new Set<string>();
  private lastSig = '';
  private full = true;

  /** The next state carries every byte array (a mirror lacks some). */
  resend(): void {
    this.full = true;
  }

  /** `state` as a delta; undefined when it reads as the last one sent. `gen` tells apart a restarted segmenter's bytes. */
  encode(state: SharedState, gen: number): WireState | undefined {
    const now = new Set<string>();
    const sig: string[] = [];
    const bytes = (k: string, b: Buffer | undefined): WireBytes | undefined => {
      if (!b) return undefined;
      const key = `${gen}:${k}`;
      now.add(key);
      sig.push(key);
      return this.full || !this.sent.has(key) ? { k: key, b } : { k: key };
    };
    const seg = (s: HlsSegment, open: boolean): WireSegment => {
      const joined = s.bytes ? 'j' : '';
      const parts = s.parts.map((p): WirePart => ({
        msn: p.msn, index: p.index, durationMs: p.durationMs, independent: p.independent, built: p.built,
        bytes: p.built ? bytes(`p${p.msn}.${p.index}${joined}`, p.bytes) : undefined, ts: bytes(`q${p.msn}.${p.index}`, p.ts),
      }));
      sig.push(`${open ? 'o' : 's'}${s.msn}/${s.parts.length}/${s.durationMs}`);
      return {
        msn: s.msn, startDts: s.startDts, durationMs: s.durationMs, programDateMs: s.programDateMs, discontinuity: s.discontinuity,
        ...(s.dsn === undefined ? {} : { dsn: s.dsn }), initVersion: s.initVersion,
        bytes: bytes(`s${s.msn}`, s.bytes), ts: bytes(`t${s.msn}`, s.ts), parts,
      };
    };
    const v = state.view;
    const view: WireView = {
      segments: v.segments.map((s) => seg(s, false)), open: v.open && seg(v.open, true), nextPart: v.nextPart,
      opts: { segmentMs: v.opts.segmentMs, partMs: v.opts.partMs },
      discontinuitySequence: v.discontinuitySequence, maxSegmentMs: v.maxSegmentMs, ended: v.ended,
    };
    const inits = state.inits.map(([version, name, b]): [number, string, WireBytes] => [version, name, bytes(`i${name}`, b)!]);
    sig.push(`${v.nextPart.msn}.${v.nextPart.index} ${v.ended} ${state.ready} ${state.building} ${state.endReason} ${state.unsupported} ${state.tsWhy} ${v.maxSegmentMs}`);
    const signature = sig.join(' ');
    if (!this.full && signature === this.lastSig) return undefined;
    this.lastSig = signature;
    this.sent = now;
    this.full = false;
    return { ...state, view, inits };
  }
}

/** A mirror's side: the byte arrays it has, by key. */
export class StateDecoder {
  private have = new Map<string, Buffer>();

  /** The state with its bytes, or undefined when one of its keys is unknown here (then ask for a full state). */
  decode(w: WireState): SharedState | undefined {
    const now = new Map<string, Buffer>();
    let missing = false;
    const bytes = (x: WireBytes | undefined): Buffer | undefined => {
      if (!x) return undefined;
      const b = x.b ? Buffer.from(x.b.buffer, x.b.byteOffset, x.b.byteLength) : this.have.get(x.k);
      if (!b) {
        missing = true;
        return undefined;
      }
      now.set(x.k, b);
      return b;
    };
    const seg = (s: WireSegment): HlsSegment => ({
      ...s, bytes: bytes(s.bytes), ts: bytes(s.ts),
      parts: s.parts.map((p): HlsPart => ({ ...p, bytes: bytes(p.bytes) ?? EMPTY, ts: bytes(p.ts) })),
    });
    const view: PlaylistSource = { ...w.view, segments: w.view.segments.map(seg), open: w.view.open && seg(w.view.open) };
    const inits = w.inits.map(([version, name, x]): [number, string, Buffer] => [version, name, bytes(x) ?? EMPTY]);
    if (missing) return undefined;
    // Only what this state names stays referenced: the rest of the owner's memory can go.
    this.have = now;
    return { ...w, view, inits };
  }
}

const EMPTY = Buffer.alloc(0);

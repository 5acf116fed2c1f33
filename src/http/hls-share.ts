/**
 * A stream's HLS is segmented once per node: the first worker asked for it
 * claims it in the stream's ring (hls/ownership.ts) and builds its parts
 * and segments into SharedArrayBuffers; every other worker asked for it
 * mirrors the owner's playlist state and serves the same bytes (views of
 * that shared memory: nothing is copied between threads, nothing is built
 * twice). The workers talk over one BroadcastChannel per cluster, named by
 * the primary, with no hop through it:
 *
 *   want  {key, token, idleMs}  a mirror has viewers (again each second while it has): the owner keeps
 *                               segmenting for it (idleMs: how long ago its last request was) and sends its state
 *   state {key, token, state}   the owner's playlist state after each change, while a mirror wanted it lately
 *   gone  {key, token}          the owner stopped segmenting a live stream (idle, or its thread is closing)
 */
import { BroadcastChannel } from 'node:worker_threads';
import { describeError } from '../core/errors.js';
import type { Logger } from '../app/log.js';
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
  inits: [number, string, Uint8Array][];
}

export type ShareMessage =
  | { t: 'want'; key: string; token: number; idleMs: number }
  | { t: 'state'; key: string; token: number; state: SharedState }
  | { t: 'gone'; key: string; token: number };

export interface ShareHandlers {
  want(key: string, token: number, idleMs: number): void;
  state(key: string, token: number, state: SharedState): void;
  gone(key: string, token: number): void;
}

/** Bytes in shared memory: what the owner builds into, so the state's views reach the mirrors uncopied. */
export const sharedAlloc = (size: number): Buffer => Buffer.from(new SharedArrayBuffer(size));

/** `b` in shared memory (copied once when it is not). */
export function shared(b: Buffer): Buffer {
  if (b.buffer instanceof SharedArrayBuffer) return b;
  const out = sharedAlloc(b.length);
  b.copy(out);
  return out;
}

export class HlsShare {
  private readonly ch: BroadcastChannel;

  constructor(name: string, private readonly on: ShareHandlers, private readonly log: Logger) {
    this.ch = new BroadcastChannel(name);
    this.ch.onmessage = (e) => this.dispatch((e as { data: ShareMessage }).data);
    // The channel alone keeps no thread alive.
    this.ch.unref();
  }

  post(m: ShareMessage): void {
    try {
      this.ch.postMessage(m);
    } catch (err) {
      this.log.warn({ code: 'ERR_INTERNAL', streamKey: m.key, reason: describeError(err) }, `hls: ${m.t} not sent to the other workers`);
    }
  }

  private dispatch(m: ShareMessage): void {
    try {
      if (m.t === 'want') this.on.want(m.key, m.token, m.idleMs);
      else if (m.t === 'state') this.on.state(m.key, m.token, { ...m.state, view: viewFromWire(m.state.view) });
      else if (m.t === 'gone') this.on.gone(m.key, m.token);
    } catch (err) {
      this.log.warn({ code: 'ERR_INTERNAL', streamKey: m.key, reason: describeError(err) }, `hls: ${m.t} from another worker failed`);
    }
  }

  close(): void {
    this.ch.close();
  }
}

/** What a state message carries of a view: the plain fields only (the segmenter's options hold functions). */
export function viewToWire(v: PlaylistSource): PlaylistSource {
  return {
    segments: v.segments.map(segmentToWire), open: v.open && segmentToWire(v.open), nextPart: v.nextPart,
    opts: { segmentMs: v.opts.segmentMs, partMs: v.opts.partMs },
    discontinuitySequence: v.discontinuitySequence, maxSegmentMs: v.maxSegmentMs, ended: v.ended,
  };
}

function segmentToWire(s: HlsSegment): HlsSegment {
  return {
    msn: s.msn, startDts: s.startDts, durationMs: s.durationMs, programDateMs: s.programDateMs, discontinuity: s.discontinuity,
    ...(s.dsn === undefined ? {} : { dsn: s.dsn }), initVersion: s.initVersion, bytes: s.bytes, ts: s.ts,
    parts: s.parts.map((p): HlsPart => ({ msn: p.msn, index: p.index, durationMs: p.durationMs, independent: p.independent, bytes: p.bytes, built: p.built, ts: p.ts })),
  };
}

/** Byte arrays arrive as Uint8Arrays: Buffers over the same memory again. */
function viewFromWire(v: PlaylistSource): PlaylistSource {
  const seg = (s: HlsSegment): HlsSegment => ({
    ...s, bytes: s.bytes && asBuffer(s.bytes), ts: s.ts && asBuffer(s.ts),
    parts: s.parts.map((p) => ({ ...p, bytes: asBuffer(p.bytes), ts: p.ts && asBuffer(p.ts) })),
  });
  return { ...v, segments: v.segments.map(seg), open: v.open && seg(v.open) };
}

export const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * A stream's HLS is segmented once per node: the first worker asked for it
 * claims it in the stream's ring (hls/ownership.ts) and builds its parts
 * and segments into SharedArrayBuffers; every other worker asked for it
 * mirrors the owner's playlist state and serves the same bytes (views of
 * that shared memory: nothing is copied between threads, nothing is built
 * twice). The workers talk over one BroadcastChannel per cluster, named by
 * the primary, with no hop through it:
 *
 *   want  {key, token, idleMs, full}  a mirror has viewers (again each second while it has): the owner keeps
 *                               segmenting for it (idleMs: how long ago its last request was) and sends its
 *                               state (full: every byte array again, for a new mirror or one that missed some)
 *   state {key, token, state}   the owner's playlist state after each change, while a mirror wanted it lately
 *                               (a delta: hls-wire.ts)
 *   gone  {key, token}          the owner stopped segmenting a live stream (idle, or its thread is closing)
 */
import { BroadcastChannel } from 'node:worker_threads';
import { describeError } from '../core/errors.js';
import type { Logger } from '../app/log.js';
import type { WireState } from './hls-wire.js';

export type ShareMessage =
  | { t: 'want'; key: string; token: number; idleMs: number; full: boolean }
  | { t: 'state'; key: string; token: number; state: WireState }
  | { t: 'gone'; key: string; token: number };

export interface ShareHandlers {
  want(key: string, token: number, idleMs: number, full: boolean): void;
  state(key: string, token: number, state: WireState): void;
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
      if (m.t === 'want') this.on.want(m.key, m.token, m.idleMs, m.full);
      else if (m.t === 'state') this.on.state(m.key, m.token, m.state);
      else if (m.t === 'gone') this.on.gone(m.key, m.token);
    } catch (err) {
      this.log.warn({ code: 'ERR_INTERNAL', streamKey: m.key, reason: describeError(err) }, `hls: ${m.t} from another worker failed`);
    }
  }

  close(): void {
    this.ch.close();
  }
}

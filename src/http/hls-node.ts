/**
 * This worker's part in segmenting each stream's HLS once per node
 * (hls-share.ts): which streams it owns and which it mirrors, the owner's
 * state sent to the mirrors, their wants sent to the owner, the owners'
 * beats, a mirror taking over from an owner that stopped or went silent,
 * and this worker's word of the node-wide held-bytes bound.
 */
import type { Logger } from '../app/log.js';
import { describeError } from '../core/errors.js';
import type { HlsNodeShare } from '../app/context.js';
import { beatHls, claimHls, hlsOwner, ownerStale, releaseHls } from '../hls/ownership.js';
import { HlsShare } from './hls-share.js';
import { StateDecoder, StateEncoder } from './hls-wire.js';
import type { HlsSource } from './hls-source.js';
import { HlsStream } from './hls-stream.js';
import { HlsMirror } from './hls-mirror.js';

/** An owner sends its state while a mirror wanted it this recently (mirrors ask each second). */
const WANT_MS = 3000;

export interface HlsNodeHooks {
  /** The stream current (or ended, in its grace) under `key` here. */
  find(key: string): HlsSource | undefined;
  /** A mirror whose owner is gone: the service lets it go (the next request claims the stream or mirrors the new owner). */
  orphaned(key: string, m: HlsMirror, why: string): void;
}

export class HlsNode {
  private readonly share: HlsShare;
  private readonly held: BigInt64Array;
  /** Owners with a state post queued for this turn. */
  private readonly queued = new Set<HlsStream>();
  private readonly encoders = new WeakMap<HlsStream, StateEncoder>();
  private readonly decoders = new WeakMap<HlsMirror, StateDecoder>();

  constructor(
    private readonly node: HlsNodeShare,
    private readonly workerId: number,
    /** An owner whose beat is older is taken over. */
    private readonly staleMs: number,
    private readonly hooks: HlsNodeHooks,
    private readonly log: Logger,
  ) {
    this.held = new BigInt64Array(node.held);
    // A replacement worker's slot starts from nothing: what its predecessor held died with it.
    Atomics.store(this.held, node.slot, 0n);
    this.share = new HlsShare(node.channel, {
      want: (key, token, idleMs, full) => {
        const s = hooks.find(key);
        if (!(s instanceof HlsStream) || s.token !== token) return;
        if (full) this.encoderOf(s).resend();
        const now = Date.now();
        s.lastRequestAt = Math.max(s.lastRequestAt, now - idleMs);
        s.mirroredAt = now;
        this.publish(s);
      },
      state: (key, token, state) => {
        const m = hooks.find(key);
        if (!(m instanceof HlsMirror) || m.token !== token) return;
        let d = this.decoders.get(m);
        if (!d) this.decoders.set(m, (d = new StateDecoder()));
        const st = d.decode(state);
        if (st) m.take(st);
        else this.share.post({ t: 'want', key, token, idleMs: Date.now() - m.lastRequestAt, full: true });
      },
      gone: (key, token) => {
        const m = hooks.find(key);
        if (m instanceof HlsMirror && m.token === token && m.endReason === undefined) hooks.orphaned(key, m, 'its owner stopped');
      },
    }, log);
  }

  /** This worker's token when it claimed the stream's HLS, else the owner's. */
  claim(ctl: Int32Array): { own: boolean; token: number } {
    for (;;) {
      const token = claimHls(ctl, this.workerId, Date.now(), this.staleMs);
      if (token !== undefined) return { own: true, token };
      const owner = hlsOwner(ctl);
      // 0: the owner let go between the two reads; claim again.
      if (owner !== 0) return { own: false, token: owner };
    }
  }

  /** A new mirror asks the owner for its state. */
  opened(m: HlsMirror): void {
    this.share.post({ t: 'want', key: m.key, token: m.token, idleMs: 0, full: true });
  }

  /** After an owner's change: its state goes out once this turn, while mirrors want it. */
  publish(s: HlsStream): void {
    if (s.token === undefined || Date.now() - s.mirroredAt > WANT_MS || this.queued.has(s)) return;
    this.queued.add(s);
    queueMicrotask(() => {
      this.queued.delete(s);
      if (s.token === undefined) return;
      try {
        const state = this.encoderOf(s).encode(s.sharedState(), s.generation);
        if (state) this.share.post({ t: 'state', key: s.key, token: s.token, state });
      } catch (err) {
        this.log.warn({ streamKey: s.key, code: 'ERR_INTERNAL', reason: describeError(err) }, 'hls: state not sent to the mirrors');
      }
    });
  }

  /**
   * Each second, per stream: an owner beats (or finds it was replaced,
   * then it stops: true); a live mirror asks its owner on, or finds the
   * owner gone or silent (orphaned).
   */
  tick(key: string, s: HlsSource, now: number): boolean {
    if (s.endReason !== undefined) return false;
    if (s instanceof HlsStream) {
      if (s.token === undefined) return false;
      if (hlsOwner(s.ring.ctl) === s.token) {
        beatHls(s.ring.ctl, s.token, now);
        return false;
      }
      this.log.warn({ streamKey: key, code: 'ERR_TIMEOUT' }, 'hls: another worker took this stream over (this one was silent); its segments here are freed');
      s.token = undefined;
      return true;
    }
    if (!(s instanceof HlsMirror)) return false;
    const ctl = s.ring.ctl;
    if (hlsOwner(ctl) !== s.token) this.hooks.orphaned(key, s, 'another worker owns it now');
    else if (ownerStale(ctl, now, this.staleMs)) this.hooks.orphaned(key, s, `its owner was silent over ${this.staleMs} ms`);
    else this.share.post({ t: 'want', key, token: s.token, idleMs: now - s.lastRequestAt, full: !s.hasState });
    return false;
  }

  /**
   * An owner lets the stream go (ended, idle, replaced or closing): the
   * ring word is free for the next claim; mirrors of a live stream hear
   * it at once (`live`), an ended one's keep the last state they got.
   */
  released(s: HlsStream, live: boolean): void {
    const token = s.token;
    if (token === undefined) return;
    releaseHls(s.ring.ctl, token);
    if (!live) return;
    s.token = undefined;
    this.share.post({ t: 'gone', key: s.key, token });
  }

  private encoderOf(s: HlsStream): StateEncoder {
    let e = this.encoders.get(s);
    if (!e) this.encoders.set(s, (e = new StateEncoder()));
    return e;
  }

  /** This worker's held bytes, as the node's bound reads them. */
  setHeld(bytes: number): void {
    Atomics.store(this.held, this.node.slot, BigInt(bytes));
  }

  /** Bytes held by every worker of the node. */
  nodeHeld(): number {
    let n = 0n;
    for (let i = 0; i < this.held.length; i++) n += Atomics.load(this.held, i);
    return Number(n);
  }

  close(): void {
    Atomics.store(this.held, this.node.slot, 0n);
    this.share.close();
  }
}

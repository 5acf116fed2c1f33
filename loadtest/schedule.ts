/**
 * The send schedule. Frame n of a track is due at start + n / fps on the
 * wall clock, whatever happened before: a sender that stalls (a slow event
 * loop, a server that stops reading) sends every overdue frame as soon as
 * it can, each still stamped with its *scheduled* time, and players measure
 * latency from that time. A stall therefore shows as latency on every frame
 * it delayed, instead of vanishing because the sender waited (Gil Tene's
 * "coordinated omission").
 */
import { performance } from 'node:perf_hooks';

/**
 * Wall-clock ms (Unix epoch) with sub-ms resolution. Every thread of the
 * process agrees on it, unlike performance.now() whose origin is per thread.
 */
export function wallNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** End-to-end latency of a frame: received minus *scheduled* (never actual send) time. */
export function frameLatencyMs(receivedMs: number, scheduledMs: number): number {
  return receivedMs - scheduledMs;
}

/** A fixed-rate track: frame n is due at `startMs + n * 1000 / fps`. */
export class FrameSchedule {
  readonly intervalMs: number;

  constructor(
    readonly fps: number,
    readonly startMs = 0,
  ) {
    if (!(fps > 0)) throw new RangeError(`fps must be > 0, got ${fps}`);
    this.intervalMs = 1000 / fps;
  }

  /** When frame n is due (computed from n, so errors never accumulate). */
  dueAt(n: number): number {
    return this.startMs + (n * 1000) / this.fps;
  }

  /** How many frames are due by `nowMs` (frames 0 .. count-1). */
  dueCount(nowMs: number): number {
    if (nowMs < this.startMs) return 0;
    // The epsilon keeps a frame due exactly at nowMs from being missed to float rounding.
    return Math.floor(((nowMs - this.startMs) * this.fps) / 1000 + 1e-9) + 1;
  }
}

/** What a paced sender drains: items in due order. */
export interface PacedSource {
  /** Wall-clock ms the next item is due. */
  nextDueMs(): number;
  /** Sends the next item; it is stamped with nextDueMs() as read before the call. */
  sendNext(nowMs: number): void;
}

/**
 * Sends, in order, every item due by `nowMs` and before `endMs`, stopping
 * early only when `canSend()` says the socket is backed up (the rest stay
 * due and go out later, late, with their scheduled stamps). Never skips an
 * item. Returns how many were sent.
 */
export function sendDue(src: PacedSource, nowMs: number, endMs: number, canSend: () => boolean = () => true): number {
  let sent = 0;
  for (let due = src.nextDueMs(); due <= nowMs && due < endMs && canSend(); due = src.nextDueMs()) {
    src.sendNext(nowMs);
    sent++;
  }
  return sent;
}

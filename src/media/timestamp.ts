/**
 * Ingest timestamp policy. Players must see monotonic timestamps, across
 * encoder clock jumps and publisher reconnects:
 * - One offset per stream is added to every incoming timestamp, so audio
 *   and video keep their relative timing.
 * - A tag landing more than `maxJumpMs` away from the latest output (either
 *   way) is a discontinuity: the offset is re-based so it lands just after.
 * - A new publisher on a stream that already carried media continues just
 *   after the last output instead of restarting at its own zero.
 * - Within each track the output never goes backwards (clamped).
 * - RTMP timestamps are 32-bit milliseconds and wrap after ~49.7 days (an
 *   encoder may also start near the top): input is unwrapped first, so a
 *   wrap is no discontinuity, and output wraps the same way. Compare
 *   wrapped timestamps with tsDiff, never with < or -.
 */

const WRAP = 2 ** 32;

/** a - b for 32-bit wrapping timestamps: right while they are within ~24 days of each other. */
export function tsDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** The later of two 32-bit wrapping timestamps. */
export function tsLater(a: number, b: number): number {
  return tsDiff(a, b) >= 0 ? a : b;
}
export const Track = { Audio: 0, Video: 1, Data: 2 } as const;

export class TimestampPolicy {
  private offset = 0;
  private maxOut = -1;
  private readonly lastOut = [-1, -1, -1];
  private fresh = true;
  /** The last input, unwrapped (-1: none yet). */
  private lastIn = -1;
  /** Discontinuities re-based so far, and the input step of the latest (ms, signed). */
  jumps = 0;
  lastJumpMs = 0;

  /**
   * `resumeAfter`: the latest timestamp players of this stream have already
   * seen (a ring taken over from an earlier publisher, possibly on another
   * thread); the first tag is placed just after it.
   */
  constructor(
    private readonly maxJumpMs: number,
    resumeAfter?: number,
  ) {
    if (resumeAfter !== undefined) this.maxOut = resumeAfter;
  }

  /** A publisher (re)starts: its first tag is placed after what players saw. */
  newPublisher(): void {
    this.fresh = true;
  }

  correct(track: number, ts32: number): number {
    const ts = this.unwrap(ts32 >>> 0);
    if (this.fresh) {
      this.fresh = false;
      if (this.maxOut >= 0) this.offset = this.maxOut + 1 - ts;
    }
    let out = ts + this.offset;
    if (this.maxOut >= 0 && (out > this.maxOut + this.maxJumpMs || out < this.maxOut - this.maxJumpMs)) {
      this.jumps++;
      this.lastJumpMs = out - this.maxOut;
      this.offset = this.maxOut + 1 - ts;
      out = this.maxOut + 1;
    }
    const last = this.lastOut[track]!;
    if (out < last) out = last;
    this.lastOut[track] = out;
    if (out > this.maxOut) this.maxOut = out;
    // RTMP/FLV timestamps are 32-bit milliseconds.
    return out >>> 0;
  }

  /** 32-bit input on the line of the previous input: a step back of more than half the range is a wrap forward. */
  private unwrap(ts32: number): number {
    if (this.lastIn < 0) return (this.lastIn = ts32);
    const epoch = Math.floor(this.lastIn / WRAP);
    let ts = epoch * WRAP + ts32;
    if (ts - this.lastIn < -WRAP / 2) ts += WRAP;
    else if (ts - this.lastIn > WRAP / 2 && ts >= WRAP) ts -= WRAP;
    this.lastIn = ts;
    return ts;
  }

  /** Latest timestamp handed to players (for lag in media time). */
  latest(): number {
    return this.maxOut < 0 ? 0 : this.maxOut;
  }
}

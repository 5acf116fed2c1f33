import { C_HLS_BEAT, C_HLS_GEN, C_HLS_OWNER } from '../core/tag-ring.js';

/**
 * Which worker segments a stream's HLS for the whole node, kept in the
 * stream's ring (words HLS_OWNER, HLS_GEN, HLS_BEAT) so every worker reading
 * the ring sees it without asking anyone.
 *
 * The owner word holds a token: a claim number (19 bits) and the worker id
 * (12 bits), 0 when nobody owns it. A claim is one compare-and-swap, so two
 * workers asked at once cannot both win; the claim number makes each
 * owner's token its own, so a message from an earlier owner is told apart.
 * The owner stamps HLS_BEAT every second; an owner whose beat is older than
 * `staleMs` (a stuck or dead thread) may be replaced by another claim.
 */

const ID_MASK = 0xfff;
const GEN_SHIFT = 12;
const GEN_MASK = 0x7ffff;
/** The beat is the clock's low 30 bits, like the ring's arrival stamps: differences are taken modulo 2^30. */
const CLOCK_MASK = 0x3fffffff;

/** How far in a claimant's future a beat may be and still count as fresh: another thread's later clock read, never days. */
const FUTURE_SLACK_MS = 60_000;

/** now − beat as a signed 30-bit difference: a beat stamped by another thread whose clock read came a few ms later is negative age, not 12 days. */
function beatAge(ctl: Int32Array, now: number): number {
  return (((now - Atomics.load(ctl, C_HLS_BEAT)) & CLOCK_MASK) << 2) >> 2;
}

/** The current owner's token, 0 when none. */
export function hlsOwner(ctl: Int32Array): number {
  return Atomics.load(ctl, C_HLS_OWNER);
}

/** The worker id a token names (its low 12 bits). */
export function ownerWorker(token: number): number {
  return (token & ID_MASK) - 1;
}

/** The owner's beat is older than `staleMs`. A beat up to a minute newer than `now` (another thread's later clock read) is fresh. */
export function ownerStale(ctl: Int32Array, now: number, staleMs: number): boolean {
  const age = beatAge(ctl, now);
  // An age past 2^29 ms reads negative: only a small negative one is a clock skew between threads.
  return age > staleMs || age < -FUTURE_SLACK_MS;
}

/**
 * Claims the stream's HLS for `workerId`: when nobody owns it, or its owner
 * is stale. The new token, or undefined when a live owner holds it.
 */
export function claimHls(ctl: Int32Array, workerId: number, now: number, staleMs: number): number | undefined {
  for (;;) {
    const cur = Atomics.load(ctl, C_HLS_OWNER);
    if (cur !== 0 && !ownerStale(ctl, now, staleMs)) return undefined;
    const gen = ((Atomics.add(ctl, C_HLS_GEN, 1) + 1) & GEN_MASK) || 1;
    const token = (gen << GEN_SHIFT) | ((workerId + 1) & ID_MASK);
    // The beat first: a reader that sees the new token never sees it stale.
    Atomics.store(ctl, C_HLS_BEAT, now & CLOCK_MASK);
    if (Atomics.compareExchange(ctl, C_HLS_OWNER, cur, token) === cur) return token;
  }
}

/** The owner's sign of life (each second, from its sweep). */
export function beatHls(ctl: Int32Array, token: number, now: number): void {
  if (Atomics.load(ctl, C_HLS_OWNER) === token) Atomics.store(ctl, C_HLS_BEAT, now & CLOCK_MASK);
}

/** Gives the stream up, if `token` still owns it (a stale owner replaced meanwhile changes nothing). */
export function releaseHls(ctl: Int32Array, token: number): void {
  Atomics.compareExchange(ctl, C_HLS_OWNER, token, 0);
}

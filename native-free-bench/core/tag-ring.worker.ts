/**
 * The reading thread of tag-ring.bench.ts. Each mode ends with an owned
 * copy of every tag it takes in this thread (what a reader worker's egress
 * cache holds), and counts it in the shared tallies the writer samples.
 *
 * - ring: follow the shared TagRing as a reader worker does; a lapped
 *   read (the writer retired the record before or during the copy) is
 *   counted and the reader jumps to the tail.
 * - message: take each tag from postMessage (cloned or transferred).
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { newRecordView, seqBefore, seqDistance, TagRing } from '../../src/core/tag-ring.js';

export type ReaderMode = 'ring' | 'message';

export interface ReaderData {
  mode: ReaderMode;
  /** The ring's slab (ring mode). */
  sab?: SharedArrayBuffer;
  /** Int32 flags: READY, STOP. */
  flags: SharedArrayBuffer;
  /** BigInt64 tallies: TAGS, BYTES, LAPS, SKIPPED, DONE. */
  tallies: SharedArrayBuffer;
}

export const F_READY = 0;
export const F_STOP = 1;
export const FLAG_WORDS = 2;

export const T_TAGS = 0;
export const T_BYTES = 1;
/** Times the reader found its record retired and resynced at the tail. */
export const T_LAPS = 2;
/** Tags the writer overwrote before this reader got to them. */
export const T_SKIPPED = 3;
/** Tags the reader is past (taken or skipped): what the writer's flow control counts. */
export const T_DONE = 4;
export const TALLY_WORDS = 5;

/** Tallies are published every this many tags and whenever the reader is idle. */
const PUBLISH_EVERY = 32;
/** A record that neither reads nor counts as lapped this many times in a row is a ring bug: stop loudly. */
const MAX_FAILED_READS = 10_000_000;

class Tally {
  tags = 0;
  bytes = 0;
  laps = 0;
  skipped = 0;
  constructor(private readonly shared: BigInt64Array) {}

  publish(): void {
    Atomics.store(this.shared, T_TAGS, BigInt(this.tags));
    Atomics.store(this.shared, T_BYTES, BigInt(this.bytes));
    Atomics.store(this.shared, T_LAPS, BigInt(this.laps));
    Atomics.store(this.shared, T_SKIPPED, BigInt(this.skipped));
    Atomics.store(this.shared, T_DONE, BigInt(this.tags + this.skipped));
  }
}

function followRing(ring: TagRing, flags: Int32Array, tally: Tally): void {
  const v = newRecordView();
  let seq = ring.head();
  let failed = 0;
  for (;;) {
    if (!seqBefore(seq, ring.head())) {
      tally.publish();
      if (Atomics.load(flags, F_STOP) !== 0) return;
      continue;
    }
    if (!ring.read(seq, v)) {
      // Retired before we got to it: resync at the oldest intact record.
      const tail = ring.tail();
      if (seqBefore(seq, tail)) {
        tally.laps++;
        tally.skipped += seqDistance(seq, tail);
        seq = tail;
      } else if (++failed > MAX_FAILED_READS) {
        throw new Error(`ring reader stuck at seq ${seq}: head ${ring.head()}, tail ${tail}`);
      }
      continue;
    }
    failed = 0;
    const copy = Buffer.from(ring.body(v));
    // Overwritten during the copy: drop it; the next read finds it retired and resyncs.
    if (!ring.intact(seq)) continue;
    tally.tags++;
    tally.bytes += copy.length;
    seq = (seq + 1) | 0;
    if (tally.tags % PUBLISH_EVERY === 0) tally.publish();
  }
}

function main(): void {
  const data = workerData as ReaderData;
  const flags = new Int32Array(data.flags);
  const tally = new Tally(new BigInt64Array(data.tallies));
  const ready = () => {
    Atomics.store(flags, F_READY, 1);
    Atomics.notify(flags, F_READY);
  };
  if (data.mode === 'ring') {
    const ring = TagRing.attach(data.sab!);
    ready();
    followRing(ring, flags, tally);
    return;
  }
  // The writer's flow control reads TAGS, so publish on every message.
  parentPort!.on('message', (m: Uint8Array | 'stop') => {
    if (m === 'stop') {
      parentPort!.close();
      return;
    }
    tally.tags++;
    tally.bytes += m.length;
    tally.publish();
  });
  ready();
}

if (!isMainThread && (workerData as ReaderData | undefined)?.mode) main();

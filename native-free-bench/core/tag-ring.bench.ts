/**
 * Tags from one thread to another: the publish mix written by this thread,
 * taken by a reader thread (tag-ring.worker.ts) that ends with its own copy
 * of each tag, as a reader worker's egress does.
 *
 * - sluice: TagRing in a SharedArrayBuffer (16 MiB, the default
 *   media.ringBytes); the reader follows it as a reader worker does,
 *   copying each body out. Two ways:
 *   - paced: the writer stays at most WINDOW tags ahead of the reader, the
 *     same flow control the baselines need; this is the ratio's figure.
 *   - flat out (shown for context): the writer never waits, as the ring
 *     allows; the reader is lapped, counts each lap and the tags skipped,
 *     and resyncs at the tail.
 * - baselines: each tag posted to the reader thread with postMessage,
 *   structured-cloned (Uint8Array) or transferred (a fresh ArrayBuffer per
 *   tag, filled, then moved). These queue without bound, so the writer
 *   keeps at most WINDOW tags in flight (it spins on the reader's count).
 *
 * Figures are tags (and MB of bodies) the reader took per second, measured
 * in interleaved rounds (ROUNDS). Two busy threads on a 2-core box: noisy.
 */
import { Worker } from 'node:worker_threads';
import { TagFlag, TagRing } from '../../src/core/tag-ring.js';
import { TagType } from '../../src/protocol/types.js';
import { fmt, POINT_MS, race, report, type Bench, type Row } from '../bench.js';
import { MIX_SECONDS, mediaMix, RING_BYTES, type MediaMessage } from '../fixtures.js';
import { F_READY, F_STOP, FLAG_WORDS, TALLY_WORDS, T_BYTES, T_DONE, T_LAPS, T_SKIPPED, T_TAGS, type ReaderData } from './tag-ring.worker.js';

/** Each mode runs ROUNDS times, interleaved, on a fresh reader thread: WARM_MS, then POINT_MS / ROUNDS measured. */
const ROUNDS = 3;
const WARM_MS = 100;
/** Tags in flight at most when paced (about 4 MB of this mix; the ring holds ~16 MB, so no laps). */
const WINDOW = 1024;
/** A reader that makes no progress for this long has failed: the bench stops with its state rather than spin. */
const STALL_MS = 10_000;

type Mode = 'ring' | 'ring-paced' | 'clone' | 'transfer';

interface Sample {
  at: number;
  written: number;
  tags: number;
  bytes: number;
  laps: number;
  skipped: number;
}

interface Outcome {
  mode: Mode;
  secs: number;
  written: number;
  tags: number;
  bytes: number;
  laps: number;
  skipped: number;
}

async function runMode(mode: Mode, mix: readonly MediaMessage[], measureMs: number): Promise<Outcome> {
  const flags = new Int32Array(new SharedArrayBuffer(FLAG_WORDS * 4));
  const tallies = new BigInt64Array(new SharedArrayBuffer(TALLY_WORDS * 8));
  const onRing = mode === 'ring' || mode === 'ring-paced';
  const sab = onRing ? new SharedArrayBuffer(RING_BYTES) : undefined;
  const ring = sab ? TagRing.create(sab) : undefined;
  const data: ReaderData = { mode: onRing ? 'ring' : 'message', flags: flags.buffer as SharedArrayBuffer, tallies: tallies.buffer as SharedArrayBuffer, ...(sab ? { sab } : {}) };
  const worker = new Worker(new URL('./tag-ring.worker.js', import.meta.url), { workerData: data });
  const exited = new Promise<void>((resolve, reject) => {
    worker.once('exit', () => resolve());
    worker.once('error', reject);
  });
  if (Atomics.wait(flags, F_READY, 0, 10_000) === 'timed-out') throw new Error(`tag-ring: ${mode} reader did not start`);

  // Each body in its own ArrayBuffer, so a clone copies just the tag.
  const bodies = mix.map((m) => new Uint8Array(m.body));
  let i = 0;
  let base = 0;
  let written = 0;
  const next = (): MediaMessage => {
    const m = mix[i]!;
    if (++i === mix.length) {
      i = 0;
      base += MIX_SECONDS * 1000;
    }
    written++;
    return m;
  };
  const inFlight = () => written - Number(Atomics.load(tallies, T_DONE));
  const state = () => `${mode}: written ${written}, reader tallies ${tallies.join('/')}`;
  const append = () => {
    const k = i;
    const m = next();
    const key = m.type === TagType.Video && m.body[0] === 0x17;
    ring!.append(m.type, base + m.timestamp, key ? TagFlag.Key : 0, bodies[k]!);
  };
  /** The baselines' flow control: at most WINDOW tags ahead of the reader. */
  const paced = (send: () => void) => () => {
    if (inFlight() >= WINDOW) {
      const giveUp = performance.now() + STALL_MS;
      while (inFlight() >= WINDOW) if (performance.now() > giveUp) throw new Error(`tag-ring reader stalled (${state()})`);
    }
    send();
  };
  const writers: Record<Mode, () => void> = {
    ring: append,
    'ring-paced': paced(append),
    clone: paced(() => {
      const k = i;
      next();
      worker.postMessage(bodies[k]!);
    }),
    transfer: paced(() => {
      const k = i;
      next();
      const ab = new ArrayBuffer(bodies[k]!.length);
      const u8 = new Uint8Array(ab);
      u8.set(bodies[k]!);
      worker.postMessage(u8, [ab]);
    }),
  };
  const write = writers[mode];

  const sample = (): Sample => ({
    at: performance.now(),
    written,
    tags: Number(Atomics.load(tallies, T_TAGS)),
    bytes: Number(Atomics.load(tallies, T_BYTES)),
    laps: Number(Atomics.load(tallies, T_LAPS)),
    skipped: Number(Atomics.load(tallies, T_SKIPPED)),
  });
  const writeUntil = (t: number) => {
    while (performance.now() < t) for (let n = 0; n < 16; n++) write();
  };
  let s0: Sample;
  let s1: Sample;
  try {
    writeUntil(performance.now() + WARM_MS);
    s0 = sample();
    writeUntil(s0.at + measureMs);
    s1 = sample();
  } catch (err) {
    await worker.terminate();
    throw err;
  }

  Atomics.store(flags, F_STOP, 1);
  if (!onRing) worker.postMessage('stop');
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`tag-ring reader did not finish (${state()})`));
    }, STALL_MS);
  });
  try {
    await Promise.race([exited, stalled]);
  } finally {
    clearTimeout(timer);
  }
  return {
    mode,
    secs: (s1.at - s0.at) / 1000,
    written: s1.written - s0.written,
    tags: s1.tags - s0.tags,
    bytes: s1.bytes - s0.bytes,
    laps: s1.laps - s0.laps,
    skipped: s1.skipped - s0.skipped,
  };
}

const NAMES: Record<Mode, string> = {
  ring: 'TagRing, writer flat out (laps the reader)',
  'ring-paced': 'TagRing, writer paced like the baselines',
  clone: 'postMessage, structured clone',
  transfer: 'postMessage, transfer',
};

/**
 * For context, one thread: TagRing.append against the same copies at the
 * same offsets into non-shared memory. V8 copies into a SharedArrayBuffer
 * with relaxed atomics, byte by byte when source and destination offsets
 * differ mod 8, which FLV records at arbitrary offsets mostly do.
 */
function sharedCopyCost(mix: readonly MediaMessage[]): void {
  const ring = TagRing.create(new SharedArrayBuffer(RING_BYTES));
  const plain = new Uint8Array(RING_BYTES);
  let pos = 0;
  const perOp = mix.reduce((n, m) => n + m.body.length, 0) / 1e6;
  const contenders = [
    { name: 'TagRing.append (SharedArrayBuffer)', side: 'info' as const, op: () => { for (const m of mix) ring.append(m.type, m.timestamp, 0, m.body); } },
    {
      name: 'same copies into an ArrayBuffer',
      side: 'info' as const,
      op: () => {
        for (const m of mix) {
          // An FLV record: 11-byte header, body, 4-byte PreviousTagSize; never split at the end.
          if (pos + 15 + m.body.length > plain.length) pos = 0;
          plain.set(m.body, pos + 11);
          pos += 15 + m.body.length;
        }
      },
    },
  ];
  report('tag-ring', 'one thread: copying bodies into the ring', { label: 'MB/s', perOp }, contenders, race(contenders));
}

async function run(): Promise<Row[]> {
  const mix = mediaMix();
  sharedCopyCost(mix);
  const modes = ['ring-paced', 'ring', 'clone', 'transfer'] as const;
  const outcomes: Outcome[] = modes.map((mode) => ({ mode, secs: 0, written: 0, tags: 0, bytes: 0, laps: 0, skipped: 0 }));
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < modes.length; k++) {
      const m = (k + r) % modes.length;
      const o = await runMode(modes[m]!, mix, POINT_MS / ROUNDS);
      const sum = outcomes[m]!;
      sum.secs += o.secs;
      sum.written += o.written;
      sum.tags += o.tags;
      sum.bytes += o.bytes;
      sum.laps += o.laps;
      sum.skipped += o.skipped;
    }
  }
  const side = (m: Mode) => (m === 'ring-paced' ? ('sluice' as const) : m === 'ring' ? ('info' as const) : ('baseline' as const));
  const contenders = outcomes.map((o) => ({ name: NAMES[o.mode], side: side(o.mode) }));
  const rows = report('tag-ring', 'writer thread -> reader thread', { label: 'MB/s', perOp: 1 / 1e6 }, contenders, outcomes.map((o) => o.bytes / o.secs));
  for (const o of outcomes) {
    const lapped = o.mode === 'ring' || o.mode === 'ring-paced' ? `; lapped ${o.laps} times, ${o.skipped} tags skipped (${((100 * o.skipped) / Math.max(1, o.written)).toFixed(1)}% of written)` : '';
    console.log(`    ${NAMES[o.mode]}: written ${fmt(o.written / o.secs)} tags/s, read ${fmt(o.tags / o.secs)} tags/s${lapped}`);
  }
  return rows;
}

export const bench: Bench = {
  name: 'tag-ring',
  title: 'tags across threads: TagRing vs postMessage clone / transfer (MB/s of bodies read by the other thread)',
  run,
};

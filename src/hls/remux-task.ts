/**
 * The remux thread's task (a piscina worker, remux-pool.ts): one LL-HLS
 * part, moof + mdat, built from the stream's shared ring. The samples
 * arrive as offsets into the ring's SharedArrayBuffer, so no media crosses
 * postMessage; the bytes go back transferred. After the copy the task
 * checks the writer did not retire the oldest sample meanwhile (a part
 * built from a lapped ring is refused, never served).
 */
import { move, Piscina } from 'piscina';
import { TagRing } from '../core/tag-ring.js';
import { describeError, SluiceError } from '../core/errors.js';
import { mediaSegment, type Fmp4Run, type Fmp4Track } from './fmp4.js';
import { tsSegment } from './mpegts.js';

/** A sample as the task gets it: where its bytes are in the SharedArrayBuffer, or the bytes themselves. */
export interface WireSample {
  dts: number;
  cts: number | undefined;
  key: boolean | undefined;
  /** Byte offset in `sab` and length, when the data is a view of it. */
  at: number;
  length: number;
  /** The data itself, when it is not in `sab` (sticky copies, tests). */
  data: Uint8Array | undefined;
}

export interface RemuxTask {
  fragment: number;
  sab: SharedArrayBuffer | undefined;
  /** The ring's base in `sab`, and the seq of the oldest sample: checked intact after the copy. */
  ringBase: number;
  oldest: number | undefined;
  runs: { track: Fmp4Track; endDts: number | undefined; samples: WireSample[] }[];
  /** Build the part as MPEG-TS too, declaring these tracks (all of the stream's). */
  ts: Fmp4Track[] | undefined;
}

/** What comes back: the part's bytes, moved (not copied) to the caller. */
export interface RemuxResult {
  fmp4: ArrayBuffer;
  ts: ArrayBuffer | undefined;
  /** Why the TS build failed (the fMP4 part stands: TS never takes fMP4 down with it). */
  tsError: string | undefined;
}

/** The part as MPEG-TS, or why not. */
export function tsPart(runs: readonly Fmp4Run[], tracks: readonly Fmp4Track[]): { ts: Buffer | undefined; tsError: string | undefined } {
  try {
    return { ts: tsSegment(runs, { tracks }), tsError: undefined };
  } catch (err) {
    return { ts: undefined, tsError: describeError(err) };
  }
}

export default function remux(task: RemuxTask): RemuxResult {
  const sab = task.sab;
  const runs: Fmp4Run[] = task.runs.map((r) => ({
    track: r.track,
    endDts: r.endDts,
    samples: r.samples.map((s) => ({ dts: s.dts, cts: s.cts, key: s.key, data: s.data ?? new Uint8Array(sab!, s.at, s.length) })),
  }));
  const bytes = mediaSegment(task.fragment, runs);
  const { ts, tsError } = task.ts ? tsPart(runs, task.ts) : { ts: undefined, tsError: undefined };
  if (sab && task.oldest !== undefined && !TagRing.attach(sab, task.ringBase).intact(task.oldest)) {
    throw new SluiceError('ERR_SLOW_CONSUMER', 'hls: the ring was overwritten under a part being built');
  }
  const result: RemuxResult = { fmp4: own(bytes), ts: ts && own(ts), tsError };
  // piscina moves what a Transferable names (once move() marks it); the caller gets the value.
  const movable = {
    get [Piscina.transferableSymbol]() {
      return result.ts ? [result.fmp4, result.ts] : [result.fmp4];
    },
    get [Piscina.valueSymbol]() {
      return result;
    },
  };
  return move(movable as unknown as Parameters<typeof move>[0]) as unknown as RemuxResult;
}

/** A Buffer may share a pooled ArrayBuffer: hand back one of its own. */
function own(b: Buffer): ArrayBuffer {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? (b.buffer as ArrayBuffer) : new Uint8Array(b).buffer;
}

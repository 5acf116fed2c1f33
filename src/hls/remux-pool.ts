/**
 * HLS remux threads (piscina): parts are built off the I/O worker's event
 * loop. The task gets the ring's SharedArrayBuffer (shared, not copied) and
 * each sample's offset in it; only the small track configs are cloned. The
 * part comes back as a transferred ArrayBuffer.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { TagRing } from '../core/tag-ring.js';
import type { Fmp4Run, Fmp4Track } from './fmp4.js';
import type { RemuxResult, RemuxTask, WireSample } from './remux-task.js';

export class RemuxPool {
  private readonly pool: Piscina;

  constructor(threads: number) {
    this.pool = new Piscina({
      filename: fileURLToPath(new URL('./remux-task.js', import.meta.url)),
      minThreads: threads,
      maxThreads: threads,
      // Parts of one stream are built in order: a task is short, so a thread runs one at a time.
      concurrentTasksPerWorker: 1,
      idleTimeout: 60_000,
    });
  }

  /** One part from ring views (and its MPEG-TS with `ts`); rejects when the ring lapped a sample before the copy was done. */
  async build(fragment: number, runs: readonly Fmp4Run[], ring: TagRing, ts?: Fmp4Track[]): Promise<{ bytes: Buffer; ts: Buffer | undefined; tsError: string | undefined }> {
    const sab = ring.sab;
    let oldest: number | undefined;
    const wire = runs.map((r) => ({
      track: r.track,
      endDts: r.endDts,
      samples: r.samples.map((s): WireSample => {
        if (s.ref !== undefined && (oldest === undefined || ((s.ref - oldest) | 0) < 0)) oldest = s.ref;
        const inRing = s.data.buffer === sab;
        return { dts: s.dts, cts: s.cts, key: s.key, at: inRing ? s.data.byteOffset : 0, length: s.data.length, data: inRing ? undefined : s.data };
      }),
    }));
    const task: RemuxTask = { fragment, sab, ringBase: ring.base, oldest, runs: wire, ts };
    const out = (await this.pool.run(task)) as RemuxResult;
    return { bytes: Buffer.from(out.fmp4), ts: out.ts && Buffer.from(out.ts), tsError: out.tsError };
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

/** Tiny harness: run a function for a fixed time, report ops/s and MB/s. */
export interface BenchResult {
  name: string;
  opsPerSec: number;
  mbPerSec: number;
}

export function bench(name: string, bytesPerOp: number, fn: () => void, ms = 1000): BenchResult {
  // Warm up so the JIT has compiled the hot path before we measure.
  const warm = Date.now() + Math.min(300, ms / 3);
  while (Date.now() < warm) fn();
  let ops = 0;
  const start = process.hrtime.bigint();
  const until = Date.now() + ms;
  while (Date.now() < until) {
    for (let i = 0; i < 16; i++) fn();
    ops += 16;
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const r = { name, opsPerSec: ops / secs, mbPerSec: (ops * bytesPerOp) / secs / 1e6 };
  console.log(`${name.padEnd(48)} ${r.opsPerSec.toFixed(0).padStart(10)} ops/s ${r.mbPerSec.toFixed(1).padStart(9)} MB/s`);
  return r;
}

/**
 * Durations as wrk, k6 and srs-bench users write them: `500ms`, `10s`,
 * `2m`, `1h`, or compounds like `1m30s`; a plain number is in `plainUnit`
 * (seconds for --duration and --ramp, as before; milliseconds for --timeout).
 */
import { SluiceError } from '../src/core/errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

/** Milliseconds; throws ERR_CONFIG naming `flag` when `text` is not a duration. */
export function parseDurationMs(flag: string, text: string, plainUnit: 's' | 'ms'): number {
  const v = text.trim();
  const bad = (): SluiceError => new SluiceError('ERR_CONFIG', `--${flag}: "${text}" is not a duration (e.g. 500ms, 10s, 2m, 1h, or a number of ${plainUnit === 's' ? 'seconds' : 'milliseconds'})`);
  if (v === '') throw bad();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * UNIT_MS[plainUnit]!;
  let ms = 0;
  let end = 0;
  PART.lastIndex = 0;
  for (let m = PART.exec(v); m; m = PART.exec(v)) {
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    end = PART.lastIndex;
  }
  if (end !== v.length) throw bad();
  return ms;
}

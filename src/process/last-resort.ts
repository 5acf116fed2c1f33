/**
 * The primary's last line of defence. It holds the stream directory for
 * every worker: if it exits, every session on the node ends. Known
 * failures are answered as coded refusals where they happen; this catches
 * what slipped past them (a bug), logs it for operators and keeps serving.
 * Workers do not use it: a worker that throws ends and is replaced
 * (worker-main.ts), which is safe because the primary keeps the state.
 */
import { describeError } from '../core/errors.js';

interface ErrorLog {
  error(o: object, m: string): void;
}

/** Installs the handlers once per process; returns how many errors they have caught so far. */
export function keepServingOnError(log: ErrorLog): () => number {
  let caught = 0;
  const report = (kind: string) => (err: unknown) => {
    caught++;
    log.error({ code: 'ERR_INTERNAL', reason: err instanceof Error && err.stack ? err.stack : describeError(err), kind, caught }, 'uncaught error in the primary; still serving');
  };
  process.on('uncaughtException', report('exception'));
  process.on('unhandledRejection', report('rejection'));
  return () => caught;
}

/**
 * Structured JSON logs for operators (pino). Session logs carry
 * clientId (the admin API's id, app/client-id.ts), peer, stream key and,
 * when a session ends badly, code/reason; a session's end is one
 * "session closed" line with its reason and byte counts.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** JSON lines to stdout, or to `dest` (tests read them there). */
export function createLogger(level: string, dest?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'sluice' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return dest ? pino(options, dest) : pino(options);
}

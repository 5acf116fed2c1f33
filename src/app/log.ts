/**
 * Structured JSON logs for operators (pino). Session logs carry
 * clientId, peer, stream key and, when a session ends badly, code/reason.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'sluice' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/**
 * What the server's log says: lines by level, and its warnings and errors
 * grouped by message and code (pino JSON lines, app/log.ts), the most
 * frequent first. Lines that are not JSON (a crash's stack trace) are
 * kept verbatim.
 */
import { readFileSync } from 'node:fs';

export interface LogSummary {
  lines: number;
  byLevel: Record<string, number>;
  /** "level msg [code]" → count, warn and above. */
  problems: { what: string; count: number }[];
  /** Lines that are not JSON (first few). */
  raw: string[];
}

const SERIOUS = new Set(['warn', 'error', 'fatal']);

export function summarizeLog(path: string): LogSummary {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // no log
  }
  const byLevel: Record<string, number> = {};
  const problems = new Map<string, number>();
  const raw: string[] = [];
  let lines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    lines++;
    let rec: { level?: string; msg?: string; code?: string; reason?: string };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      if (raw.length < 20) raw.push(line.slice(0, 300));
      continue;
    }
    const level = String(rec.level ?? '?');
    byLevel[level] = (byLevel[level] ?? 0) + 1;
    if (!SERIOUS.has(level)) continue;
    const what = `${level} ${rec.msg ?? ''}${rec.code ? ` [${rec.code}]` : ''}`;
    problems.set(what, (problems.get(what) ?? 0) + 1);
  }
  return {
    lines,
    byLevel,
    problems: [...problems].map(([what, count]) => ({ what, count })).sort((a, b) => b.count - a.count),
    raw,
  };
}

/**
 * A worker's state as plain data, for the primary (sent msgpackr-encoded):
 * its sessions, counters and stream views.
 */
import type { ServerContext, ServerCounters, SessionInfo } from './context.js';

export interface StreamSnapshot {
  key: string;
  home: boolean;
  live: boolean;
  players: number;
  tagsIn: number;
  bytesIn: number;
  tagsDropped: number;
}

export interface WorkerSnapshot {
  worker: number;
  sessions: SessionInfo[];
  counters: ServerCounters;
  streams: StreamSnapshot[];
}

export function workerSnapshot(ctx: ServerContext): WorkerSnapshot {
  return {
    worker: ctx.workerId,
    sessions: [...ctx.sessions.values()].map((s) => s.info()),
    counters: ctx.counters,
    streams: ctx.hub.list().map((s) => ({
      key: s.key,
      home: s.isHome,
      live: s.live,
      players: s.subscribers.size,
      tagsIn: s.counters.tagsIn,
      bytesIn: s.counters.bytesIn,
      tagsDropped: s.counters.tagsDropped,
    })),
  };
}

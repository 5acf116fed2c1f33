/**
 * What every session of a server shares: config, logger, the stream
 * registry and the counters operators read.
 */
import type { SluiceConfig } from './config.js';
import type { Logger } from './log.js';
import type { WorkerHub } from '../cluster/worker-hub.js';
import type { ErrorCode } from '../core/errors.js';
import type { FlvPlayer } from './http-flv-player.js';

export interface ServerCounters {
  connectionsTotal: number;
  connectionsRefused: number;
  handshakeFailures: number;
  complexHandshakes: number;
  bytesIn: number;
  bytesOut: number;
  publishesTotal: number;
  playsTotal: number;
  playersEvicted: number;
  /** Sessions ended by an error, by code. */
  sessionErrors: Partial<Record<ErrorCode, number>>;
}

export function newCounters(): ServerCounters {
  return {
    connectionsTotal: 0,
    connectionsRefused: 0,
    handshakeFailures: 0,
    complexHandshakes: 0,
    bytesIn: 0,
    bytesOut: 0,
    publishesTotal: 0,
    playsTotal: 0,
    playersEvicted: 0,
    sessionErrors: {},
  };
}

export interface SessionInfo {
  id: number;
  peer: string;
  role: 'none' | 'publisher' | 'player';
  streamKey?: string;
  since: number;
  bytesIn: number;
  bytesOut: number;
  worker: number;
}

export interface ServerContext {
  config: SluiceConfig;
  log: Logger;
  /** This worker's view of the stream directory. */
  hub: WorkerHub;
  workerId: number;
  counters: ServerCounters;
  sessions: Map<number, { info(): SessionInfo; close(reason: string): void }>;
  /** HTTP-FLV and WS-FLV players of this worker. */
  flvPlayers: Set<FlvPlayer>;
  version: string;
}

/**
 * What every session of a server shares: config, logger, the stream
 * registry and the counters operators read.
 */
import type { SluiceConfig } from './config.js';
import type { Logger } from './log.js';
import type { WorkerHub } from '../cluster/worker-hub.js';
import type { ErrorCode } from '../core/errors.js';
import type { ClientProtocol } from '../cluster/messages.js';
import type { FlvPlayer } from './http-flv-player.js';
import type { HdrLatencyRecorder } from './latency.js';
import type { IngestMeter } from './ingest-meter.js';

export type FlvProtocol = Exclude<ClientProtocol, 'rtmp'>;

export interface ServerCounters {
  /** RTMP connections accepted (refused ones included). */
  connectionsTotal: number;
  connectionsRefused: number;
  handshakeFailures: number;
  complexHandshakes: number;
  /** Bytes of RTMP sessions that have ended (open ones are read live, see snapshot.ts). */
  bytesIn: number;
  bytesOut: number;
  publishesTotal: number;
  playsTotal: number;
  playersEvicted: number;
  /** Tags skipped for slow players, by players that have left (open ones are read live). */
  tagsDropped: number;
  /** HTTP-FLV / WS-FLV players accepted, and the bytes of those that have ended. */
  flv: Record<FlvProtocol, { connections: number; bytesOut: number }>;
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
    tagsDropped: 0,
    flv: { 'http-flv': { connections: 0, bytesOut: 0 }, 'ws-flv': { connections: 0, bytesOut: 0 } },
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
  /** Latency histograms: players' ingest-to-egress and first frame, sessions' handshake time. */
  latency: HdrLatencyRecorder;
  /** Ingest bitrate of the streams published here. */
  ingest: IngestMeter;
  version: string;
}

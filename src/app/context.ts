/**
 * What every session of a worker shares: config, logger, the stream
 * service and registry, and the counters operators read. Transports are
 * named here only by the interfaces the rest of the worker needs of them.
 */
import { type SluiceConfig } from './config.js';
import { accessOptionsOf, hookOptionsOf } from './config-views.js';
import { AccessPolicy } from '../access/policy.js';
import { HttpHooks } from '../access/hooks.js';
import { IpCounter } from '../access/ip-counter.js';
import type { Logger } from './log.js';
import type { WorkerHub } from '../cluster/worker-hub.js';
import type { ErrorCode } from '../core/errors.js';
import type { ClientProtocol } from '../cluster/messages.js';
import { HdrLatencyRecorder } from './latency.js';
import { IngestMeter } from './ingest-meter.js';
import { StreamService } from './stream-service.js';
import { packageVersion } from './version.js';

export type FlvProtocol = Exclude<ClientProtocol, 'rtmp'>;

/**
 * What a cluster's workers share for HLS (http/hls-share.ts): the channel
 * they talk over, and the held-bytes words (one per worker slot, this
 * worker's at `slot`) that make hls.maxMemoryBytes a bound on the node.
 */
export interface HlsNodeShare {
  channel: string;
  held: SharedArrayBuffer;
  slot: number;
}

/** HLS on a worker (http/hls-service.ts), as snapshots read it. */
export interface HlsStats {
  /** Streams being segmented here, streams served here from another worker's segments, and viewers (sessions) watching them. */
  streams: number;
  mirrored: number;
  viewers: number;
  /** Bytes of segments, parts and inits held by this worker, and the bound on them with every other worker's (hls.maxMemoryBytes). */
  heldBytes: number;
  memoryBoundBytes: number;
  requests: Record<'playlist' | 'mediaPlaylist' | 'blocking' | 'segment' | 'part' | 'init' | 'tsPlaylist' | 'tsSegment', number>;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  bytesOut: number;
  partsBuilt: number;
  /** Segments dropped before the window would have, to stay under the bound. */
  trimmed: number;
  streamsStarted: number;
}

export interface HlsHandle {
  stats(): HlsStats;
  /** HLS viewers of one stream here. */
  viewersOf(streamKey: string): number;
}

export interface ServerCounters {
  /** RTMP connections accepted (refused ones included). */
  connectionsTotal: number;
  connectionsRefused: number;
  handshakeFailures: number;
  complexHandshakes: number;
  /** Bytes of RTMP sessions that have ended (open ones are read live, see control/snapshot.ts). */
  bytesIn: number;
  bytesOut: number;
  publishesTotal: number;
  playsTotal: number;
  playersEvicted: number;
  /** Tags skipped for slow players, by players that have left (open ones are read live). */
  tagsDropped: number;
  /** Publisher timestamp discontinuities re-based (media.maxTimestampJumpMs). */
  timestampJumps: number;
  /** E-RTMP NetConnection.Connect.ReconnectRequest sent on drain (rtmp/session.ts). */
  reconnectRequests: number;
  /** HTTP-FLV / WS-FLV players accepted, and the bytes of those that have ended. */
  flv: Record<FlvProtocol, { connections: number; bytesOut: number }>;
  /** Sessions ended by an error, by code. */
  sessionErrors: Partial<Record<ErrorCode, number>>;
  /** Publishes and plays access control refused, by "action reason". */
  refused: Record<string, number>;
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
    timestampJumps: 0,
    reconnectRequests: 0,
    flv: { 'http-flv': { connections: 0, bytesOut: 0 }, 'ws-flv': { connections: 0, bytesOut: 0 } },
    sessionErrors: {},
    refused: {},
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

/** An RTMP session, as the control plane and shutdown see it. */
export interface RtmpSessionHandle {
  info(): SessionInfo;
  close(reason: string): void;
}

/** An HTTP-FLV or WS-FLV player, as the control plane and shutdown see it. */
export interface FlvPlayerHandle {
  readonly id: number;
  readonly protocol: FlvProtocol;
  readonly peer: string;
  readonly streamKey: string;
  readonly since: number;
  readonly bytesOut: number;
  /** Ends it on request; `abort` cuts the socket without a goodbye (the thread is ending). */
  close(reason: string, abort?: boolean): void;
  /** Ends it as the end of its stream would (shutdown): the FLV stream ends cleanly. */
  onStreamEnd(reason: string): void;
}

/** An upstream connection as the control plane sees it: a pull (edge/pull-session.ts) or a push (edge/push-session.ts). */
export interface UpstreamInfo {
  streamKey: string;
  /** pull: from an origin; forward: an edge's publisher to its origin; relay: relay push. */
  kind: 'pull' | 'forward' | 'relay';
  /** Origin or destination URL of the current (or last) attempt. */
  origin: string | undefined;
  state: 'connecting' | 'playing' | 'publishing' | 'retrying' | 'stopped';
  bytesIn: number;
  bytesOut: number;
  reconnects: number;
  since: number;
  worker: number;
}

export interface UpstreamTotals {
  reconnects: number;
  bytesIn: number;
  bytesOut: number;
}

/** This worker's upstreams (edge mode), as shutdown and the control plane see them. */
export interface UpstreamRegistry {
  list(): UpstreamInfo[];
  /** Since the worker started, ended upstreams included (counters never go back). */
  totals(): UpstreamTotals;
  closeAll(reason: string): void;
}

export interface ServerContext {
  config: SluiceConfig;
  log: Logger;
  /** This worker's view of the stream directory. */
  hub: WorkerHub;
  /** Publish and play leases over the hub: what sessions use. */
  streams: StreamService;
  workerId: number;
  counters: ServerCounters;
  sessions: Map<number, RtmpSessionHandle>;
  /** Connections per client address (access.maxConnectionsPerIp). */
  perIp: IpCounter;
  /** Counts a refusal that happens outside the stream service (a connection cap). */
  countRefused(action: string, reason: string): void;
  /** HTTP-FLV and WS-FLV players of this worker. */
  flvPlayers: Set<FlvPlayerHandle>;
  /** Latency histograms: players' ingest-to-egress and first frame, sessions' handshake time. */
  latency: HdrLatencyRecorder;
  /** Ingest bitrate of the streams published here. */
  ingest: IngestMeter;
  /** Edge mode: the upstreams pulling streams from origins (set by the process that wires edge/). */
  upstreams: UpstreamRegistry | undefined;
  /** HLS, when the HTTP listener serves it (set by http/flv-route.ts). */
  hls: HlsHandle | undefined;
  /** (cluster of several workers) What they share for HLS; set by the worker's entry point. */
  hlsNode?: HlsNodeShare | undefined;
  version: string;
}

export function newContext(config: SluiceConfig, log: Logger, hub: WorkerHub, workerId: number): ServerContext {
  const counters = newCounters();
  const countRefused = (action: string, reason: string): void => {
    const key = `${action} ${reason}`;
    counters.refused[key] = (counters.refused[key] ?? 0) + 1;
  };
  hub.timestampJump = (streamKey, stepMs) => {
    counters.timestampJumps++;
    log.warn({ streamKey, stepMs, maxTimestampJumpMs: config.media.maxTimestampJumpMs }, 'publisher timestamp jump re-based');
  };
  return {
    config,
    log,
    hub,
    streams: new StreamService(hub, new AccessPolicy(accessOptionsOf(config), new HttpHooks(hookOptionsOf(config), log)), (err) => countRefused(err.action, err.reason)),
    perIp: new IpCounter(config.access.maxConnectionsPerIp),
    countRefused,
    workerId,
    counters,
    sessions: new Map(),
    flvPlayers: new Set(),
    latency: new HdrLatencyRecorder(),
    ingest: new IngestMeter(hub).start(),
    upstreams: undefined,
    hls: undefined,
    version: packageVersion(),
  };
}

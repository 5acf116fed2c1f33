/**
 * A worker's state as plain data, for the primary (sent msgpackr-encoded):
 * its sessions and players, counters, stream views and latency histograms.
 * Byte and drop totals include open connections, so they grow while
 * traffic flows and never go back when a connection ends.
 */
import type { ClientProtocol } from '../cluster/messages.js';
import type { FlvProtocol, HlsStats, ServerContext, ServerCounters, SessionInfo, UpstreamInfo, UpstreamTotals } from '../app/context.js';
import { RING_REF_FORM_ID } from '../media/egress/ring-ref-form.js';
import type { LatencySnapshot } from '../app/latency.js';

export interface FlvPlayerInfo {
  id: number;
  protocol: FlvProtocol;
  peer: string;
  streamKey: string;
  since: number;
  bytesOut: number;
}

/** One protocol's connections on a worker. */
export interface ProtocolTraffic {
  /** Accepted since the worker started (RTMP: TCP connections, refused ones included; FLV: players). */
  accepted: number;
  open: number;
  players: number;
  bytesIn: number;
  bytesOut: number;
}

export type ByProtocol<T> = Record<ClientProtocol, T>;

export interface StreamSnapshot {
  key: string;
  app: string;
  name: string;
  /** This worker publishes the stream (it is the ring's writer). */
  home: boolean;
  /** Home only: an encoder's session, or an edge upstream. */
  source: 'publisher' | 'pull';
  live: boolean;
  /** Local players (every protocol; HLS's segmenter is not one, its viewers are counted in hlsViewers). */
  players: number;
  playersByProtocol: ByProtocol<number>;
  /** HLS viewers here (one per address and query that asked within hls.sessionIdleMs). */
  hlsViewers: number;
  tagsIn: number;
  bytesIn: number;
  tagsDropped: number;
  /** Home only: when the current publisher started (ms since the epoch), and its ingest bitrate. */
  publishedAt: number;
  bitsPerSecond: number;
  videoCodec?: string;
  audioCodec?: string;
  /** From the encoder's onMetaData, when it sent them. */
  width?: number;
  height?: number;
  framerate?: number;
}

export interface WorkerSnapshot {
  worker: number;
  /** RTMP sessions (empty when asked without clients). */
  sessions: SessionInfo[];
  flvPlayers: FlvPlayerInfo[];
  counters: ServerCounters;
  traffic: ByProtocol<ProtocolTraffic>;
  publishers: number;
  /** Tags skipped for slow players, open players included. */
  tagsDropped: number;
  streams: StreamSnapshot[];
  latency: LatencySnapshot;
  /** Edge upstreams open on this worker, and totals since it started. */
  upstreams: UpstreamInfo[];
  upstreamTotals: UpstreamTotals;
  hls: HlsStats;
}

/** A worker without HLS. */
export const NO_HLS: HlsStats = {
  streams: 0, mirrored: 0, viewers: 0, heldBytes: 0, memoryBoundBytes: 0, bytesOut: 0, partsBuilt: 0, trimmed: 0, streamsStarted: 0, statuses: {},
  requests: { playlist: 0, mediaPlaylist: 0, blocking: 0, segment: 0, part: 0, init: 0, tsPlaylist: 0, tsSegment: 0 },
};

const PROTOCOLS: readonly ClientProtocol[] = ['rtmp', 'http-flv', 'ws-flv'];

function byProtocol<T>(make: (p: ClientProtocol) => T): ByProtocol<T> {
  return Object.fromEntries(PROTOCOLS.map((p) => [p, make(p)])) as ByProtocol<T>;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** `clients` false: totals only, without the per-connection lists (a scrape of a worker with thousands of players). */
export function workerSnapshot(ctx: ServerContext, clients = true): WorkerSnapshot {
  const now = Date.now();
  const c = ctx.counters;
  const sessions = [...ctx.sessions.values()].map((s) => s.info());
  const flvPlayers: FlvPlayerInfo[] = [...ctx.flvPlayers].map((p) => ({
    id: p.id,
    protocol: p.protocol,
    peer: p.peer,
    streamKey: p.streamKey,
    since: p.since,
    bytesOut: p.bytesOut,
  }));

  const traffic = byProtocol<ProtocolTraffic>((p) =>
    p === 'rtmp'
      ? { accepted: c.connectionsTotal, open: sessions.length, players: 0, bytesIn: c.bytesIn, bytesOut: c.bytesOut }
      : { accepted: c.flv[p].connections, open: 0, players: 0, bytesIn: 0, bytesOut: c.flv[p].bytesOut },
  );
  const playersOf = new Map<string, ByProtocol<number>>();
  const countPlayer = (key: string, p: ClientProtocol): void => {
    let m = playersOf.get(key);
    if (!m) playersOf.set(key, (m = byProtocol(() => 0)));
    m[p]++;
    traffic[p].players++;
  };
  let publishers = 0;
  for (const s of sessions) {
    traffic.rtmp.bytesIn += s.bytesIn;
    traffic.rtmp.bytesOut += s.bytesOut;
    if (s.role === 'publisher') publishers++;
    if (s.role === 'player' && s.streamKey) countPlayer(s.streamKey, 'rtmp');
  }
  for (const p of flvPlayers) {
    traffic[p.protocol].open++;
    traffic[p.protocol].bytesOut += p.bytesOut;
    countPlayer(p.streamKey, p.protocol);
  }

  const latency = ctx.latency.snapshot(now);
  let tagsDropped = c.tagsDropped;
  const streams = ctx.hub.list().map((s): StreamSnapshot => {
    for (const sub of s.subscribers) tagsDropped += sub.tagsDropped;
    const meta = s.info.metadata ?? {};
    return {
      key: s.key,
      app: s.app,
      name: s.name,
      home: s.isHome,
      source: s.source,
      live: s.live,
      players: [...s.subscribers].filter((sub) => sub.form.id !== RING_REF_FORM_ID).length,
      playersByProtocol: playersOf.get(s.key) ?? byProtocol(() => 0),
      hlsViewers: ctx.hls?.viewersOf(s.key) ?? 0,
      tagsIn: s.counters.tagsIn,
      bytesIn: s.counters.bytesIn,
      tagsDropped: s.counters.tagsDropped,
      publishedAt: s.isHome ? s.publishedAt : 0,
      bitsPerSecond: ctx.ingest.bitsPerSecond(s, now),
      videoCodec: s.info.videoCodec,
      audioCodec: s.info.audioCodec,
      width: num(meta.width),
      height: num(meta.height),
      framerate: num(meta.framerate) ?? num(meta.fps),
    };
  });

  return {
    worker: ctx.workerId,
    sessions: clients ? sessions : [],
    flvPlayers: clients ? flvPlayers : [],
    counters: c,
    traffic,
    publishers,
    tagsDropped,
    streams,
    latency,
    upstreams: ctx.upstreams?.list() ?? [],
    upstreamTotals: ctx.upstreams?.totals() ?? { reconnects: 0, bytesIn: 0, bytesOut: 0 },
    hls: ctx.hls?.stats() ?? NO_HLS,
  };
}

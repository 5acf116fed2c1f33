/**
 * The JSON side of the admin API: streams and clients as the primary sees
 * them, assembled from the directory (which stream exists, its home) and
 * fresh worker snapshots (codecs, players, bytes), and the two actions
 * (kick a client, drop a publisher), carried out by the owning worker.
 *
 * Client ids (app/client-id.ts) are the ones log lines carry: `2-rtmp-17`.
 */
import type { ClientProtocol, WorkerAnswers, WorkerRequest } from '../cluster/messages.js';
import type { StreamDirectory } from '../cluster/directory.js';
import { clientId, parseClientId } from '../app/client-id.js';
import { LATENCY_METRICS, WINDOW_MS, mergeLatency, type LatencyMetric } from '../app/latency.js';
import type { ByProtocol, StreamSnapshot, WorkerSnapshot } from './snapshot.js';

/** An error the API answers with: `{ "error": { "code", "message" } }` and this status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What the API reads and asks of the cluster. */
export interface ApiSource {
  directory: Pick<StreamDirectory, 'list'>;
  /** `clients: false` leaves out the per-connection lists. */
  snapshots(opts?: { clients?: boolean }): Promise<WorkerSnapshot[]>;
  request<R extends WorkerRequest>(worker: number, m: R): Promise<WorkerAnswers[R['t']] | undefined>;
}

export interface StreamJson {
  key: string;
  app: string;
  name: string;
  /** live: published; grace: publisher left, players wait for it; waiting: players wait for a first publisher. */
  state: string;
  /** Worker that publishes it (null when not live). */
  home: number | null;
  /** What feeds it while live: an encoder (`publisher`) or an edge upstream (`pull`, from `origin`). */
  source: { type: 'publisher' | 'pull'; origin: string | null } | null;
  video: { codec: string | null; width: number | null; height: number | null; fps: number | null } | null;
  audio: { codec: string | null } | null;
  ingest: { bitsPerSecond: number; bytes: number; tags: number };
  /** Players per transport; `hls` counts viewers (an address and query that asked within hls.sessionIdleMs). */
  players: ByProtocol<number> & { hls: number; total: number };
  /** Workers with a view of the stream (home and readers). */
  workers: number[];
  tagsDropped: number;
  publishedAt: string | null;
  uptimeSeconds: number | null;
}

export interface ClientJson {
  id: string;
  protocol: ClientProtocol;
  peer: string;
  worker: number;
  role: 'publisher' | 'player' | 'none';
  stream: string | null;
  bytesIn: number;
  bytesOut: number;
  since: string;
}

export interface ClientsPage {
  total: number;
  offset: number;
  limit: number;
  clients: ClientJson[];
}

/** One latency metric over every worker: percentiles of the window (null while it is empty), count since start. */
export interface LatencyJson {
  count: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface LatencyPage {
  /** The percentiles cover the last windowSeconds to twice that (app/latency.ts). */
  windowSeconds: number;
  latency: Record<LatencyMetric, LatencyJson>;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
const PROTOCOL_ORDER: readonly ClientProtocol[] = ['rtmp', 'http-flv', 'ws-flv'];

function splitKey(key: string): { app: string; name: string } {
  const i = key.indexOf('/');
  return { app: key.slice(0, i), name: key.slice(i + 1) };
}

export interface UpstreamJson {
  stream: string;
  /** pull (from an origin), forward (an edge's publisher to its origin), relay (relay push). */
  kind: string;
  origin: string | null;
  state: string;
  worker: number;
  bytesIn: number;
  bytesOut: number;
  reconnects: number;
  since: string;
}

function streamJson(entry: ReturnType<StreamDirectory['list']>[number], views: [number, StreamSnapshot][], now: number, upstreams: UpstreamJson[]): StreamJson {
  const home = views.find(([w, v]) => w === entry.home && v.home)?.[1];
  // After the publisher left, the last home's view (if a player keeps it) still knows the codecs.
  const known = home ?? views.map(([, v]) => v).find((v) => v.videoCodec !== undefined || v.audioCodec !== undefined);
  const players = { rtmp: 0, 'http-flv': 0, 'ws-flv': 0, hls: 0, total: 0 };
  let tagsDropped = 0;
  for (const [, v] of views) {
    for (const p of PROTOCOL_ORDER) players[p] += v.playersByProtocol[p];
    players.hls += v.hlsViewers ?? 0;
    tagsDropped += v.tagsDropped;
  }
  players.total = players.rtmp + players['http-flv'] + players['ws-flv'] + players.hls;
  const { app, name } = home ?? splitKey(entry.key);
  const video = known && (known.videoCodec !== undefined || known.width !== undefined)
    ? { codec: known.videoCodec ?? null, width: known.width ?? null, height: known.height ?? null, fps: known.framerate ?? null }
    : null;
  const publishedAt = home && home.publishedAt > 0 ? home.publishedAt : undefined;
  return {
    key: entry.key,
    app,
    name,
    state: entry.state,
    home: entry.home ?? null,
    source: home ? { type: home.source, origin: home.source === 'pull' ? (upstreams.find((u) => u.stream === entry.key && u.kind === 'pull')?.origin ?? null) : null } : null,
    video,
    audio: known?.audioCodec !== undefined ? { codec: known.audioCodec } : null,
    ingest: { bitsPerSecond: Math.round(home?.bitsPerSecond ?? 0), bytes: home?.bytesIn ?? 0, tags: home?.tagsIn ?? 0 },
    players,
    workers: views.map(([w]) => w).sort((a, b) => a - b),
    tagsDropped,
    publishedAt: publishedAt === undefined ? null : new Date(publishedAt).toISOString(),
    uptimeSeconds: publishedAt === undefined ? null : Math.max(0, Math.round((now - publishedAt) / 1000)),
  };
}

function clientsOf(snaps: WorkerSnapshot[]): ClientJson[] {
  const out: ClientJson[] = [];
  for (const w of [...snaps].sort((a, b) => a.worker - b.worker)) {
    for (const s of [...w.sessions].sort((a, b) => a.id - b.id)) {
      out.push({
        id: clientId(w.worker, 'rtmp', s.id),
        protocol: 'rtmp',
        peer: s.peer,
        worker: w.worker,
        role: s.role,
        stream: s.streamKey ?? null,
        bytesIn: s.bytesIn,
        bytesOut: s.bytesOut,
        since: new Date(s.since).toISOString(),
      });
    }
    const flv = [...w.flvPlayers].sort((a, b) => PROTOCOL_ORDER.indexOf(a.protocol) - PROTOCOL_ORDER.indexOf(b.protocol) || a.id - b.id);
    for (const p of flv) {
      out.push({
        id: clientId(w.worker, p.protocol, p.id),
        protocol: p.protocol,
        peer: p.peer,
        worker: w.worker,
        role: 'player',
        stream: p.streamKey,
        bytesIn: 0,
        bytesOut: p.bytesOut,
        since: new Date(p.since).toISOString(),
      });
    }
  }
  return out;
}

/** A non-negative integer query parameter, or its default; anything else is a 400. */
function intParam(q: URLSearchParams, name: string, dflt: number, max: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return dflt;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) > max) {
    throw new ApiError(400, 'BAD_REQUEST', `${name} must be an integer from 0 to ${max}, got ${JSON.stringify(raw.slice(0, 32))}`);
  }
  return Number(raw);
}

const notFoundStream = (key: string): ApiError => new ApiError(404, 'STREAM_NOT_FOUND', `no stream ${key}`);
const notFoundClient = (id: string): ApiError => new ApiError(404, 'CLIENT_NOT_FOUND', `no client ${id}`);

export class AdminApi {
  constructor(private readonly src: ApiSource) {}

  async streams(): Promise<{ streams: StreamJson[] }> {
    const snaps = await this.src.snapshots({ clients: false });
    const now = Date.now();
    const streams = this.src.directory
      .list()
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((e) => streamJson(e, viewsOf(snaps, e.key), now, upstreamsOf(snaps)));
    return { streams };
  }

  /** Edge upstreams: which origin each pulled stream comes from, and how it fares. */
  async upstreams(): Promise<{ upstreams: UpstreamJson[] }> {
    return { upstreams: upstreamsOf(await this.src.snapshots({ clients: false })) };
  }

  async stream(key: string): Promise<StreamJson> {
    const entry = this.src.directory.list().find((e) => e.key === key);
    if (!entry) throw notFoundStream(key);
    const snaps = await this.src.snapshots({ clients: false });
    return streamJson(entry, viewsOf(snaps, key), Date.now(), upstreamsOf(snaps));
  }

  async clients(query: URLSearchParams): Promise<ClientsPage> {
    const limit = intParam(query, 'limit', DEFAULT_LIMIT, MAX_LIMIT);
    const offset = intParam(query, 'offset', 0, 1e9);
    const all = clientsOf(await this.src.snapshots());
    return { total: all.length, offset, limit, clients: all.slice(offset, offset + limit) };
  }

  /** The same HdrHistograms as /metrics, as percentiles (the console plots them). */
  async latency(): Promise<LatencyPage> {
    const snaps = await this.src.snapshots({ clients: false });
    const latency = {} as Record<LatencyMetric, LatencyJson>;
    for (const m of LATENCY_METRICS) {
      const merged = mergeLatency(snaps.map((w) => w.latency[m]));
      // 3 significant digits are all the histogram holds.
      const ms = (q: number): number | null => {
        const s = merged.quantile(q);
        return Number.isNaN(s) ? null : Number((s * 1000).toPrecision(3));
      };
      latency[m] = { count: merged.count, p50Ms: ms(0.5), p90Ms: ms(0.9), p99Ms: ms(0.99), maxMs: ms(1) };
    }
    return { windowSeconds: WINDOW_MS / 1000, latency };
  }

  async client(id: string): Promise<ClientJson> {
    const found = parseClientId(id) && clientsOf(await this.src.snapshots()).find((c) => c.id === id);
    if (!found) throw notFoundClient(id);
    return found;
  }

  /** Closes a client on its worker. */
  async kick(id: string): Promise<void> {
    const at = parseClientId(id);
    const reason = 'closed by admin request';
    const done = at && (await this.src.request(at.worker, { t: 'kick', protocol: at.protocol, id: at.localId, reason }));
    if (!done) throw notFoundClient(id);
  }

  /** Closes the session publishing `key` (its players get UnpublishNotify and wait out the grace period). */
  async dropPublisher(key: string): Promise<void> {
    const entry = this.src.directory.list().find((e) => e.key === key);
    if (!entry) throw notFoundStream(key);
    if (entry.home === undefined) throw new ApiError(409, 'STREAM_NOT_LIVE', `${key} has no publisher (${entry.state})`);
    const done = await this.src.request(entry.home, { t: 'dropPublisher', key, reason: 'publisher dropped by admin request' });
    if (!done) throw new ApiError(409, 'STREAM_NOT_LIVE', `${key}: its publisher is already gone`);
  }
}

function upstreamsOf(snaps: WorkerSnapshot[]): UpstreamJson[] {
  return snaps
    .flatMap((w) => w.upstreams)
    .sort((a, b) => (a.streamKey < b.streamKey ? -1 : a.streamKey > b.streamKey ? 1 : a.worker - b.worker))
    .map((u) => ({
      stream: u.streamKey,
      kind: u.kind,
      origin: u.origin ?? null,
      state: u.state,
      worker: u.worker,
      bytesIn: u.bytesIn,
      bytesOut: u.bytesOut,
      reconnects: u.reconnects,
      since: new Date(u.since).toISOString(),
    }));
}

function viewsOf(snaps: WorkerSnapshot[], key: string): [number, StreamSnapshot][] {
  const out: [number, StreamSnapshot][] = [];
  for (const w of snaps) for (const v of w.streams) if (v.key === key) out.push([w.worker, v]);
  return out;
}

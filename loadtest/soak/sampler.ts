/**
 * One sample of the server under test, from where each figure lives:
 *
 *   /proc/PID/status   VmRSS (the one process: primary and worker threads), Threads
 *   /proc/PID/fd       open descriptors (sockets, pipes, epoll, files)
 *   /metrics           sluice_connections / sluice_players (by protocol), sluice_publishers,
 *                      sluice_streams; counters (evictions, handshake failures, session
 *                      errors by code, worker restarts); nodejs_heap_size_used_bytes, which
 *                      is the primary thread's heap only (prom-client runs there; the
 *                      workers' heaps are not exposed — RSS covers them)
 *   /api/v1/streams    directory entries by state: live and grace entries hold a ring slab.
 *                      The SharedArrayBuffer slab pool itself (in use / free) is not
 *                      exposed anywhere, nor are ended streams whose slab a worker still
 *                      holds; live + grace is the nearest figure
 *   /api/v1/clients    connections the workers list (limit=0: the total only)
 *
 * /proc is read before the scrapes so the scrapes' own connection is not counted.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getJson, getText } from './admin-client.js';
import { parseProm, promBy, promSum } from './prom-text.js';
import type { Phase, Sample, SampleInfo, SeriesValues } from './types.js';

const MB = 1024 * 1024;

function procStatus(pid: number): { rssMb?: number; threads?: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)\s*kB/.exec(s)?.[1];
    const threads = /Threads:\s+(\d+)/.exec(s)?.[1];
    return { rssMb: rss === undefined ? undefined : Number(rss) / 1024, threads: threads === undefined ? undefined : Number(threads) };
  } catch {
    return {};
  }
}

function fdCount(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

const round = (v: number | undefined, digits = 1): number | undefined => (v === undefined ? undefined : Number(v.toFixed(digits)));

export async function takeSample(pid: number, adminPort: number, t: number, phase: Phase): Promise<Sample> {
  const proc = procStatus(pid);
  const values: SeriesValues = { rssMb: round(proc.rssMb), threads: proc.threads, fds: fdCount(pid) };
  const info: SampleInfo = {};
  const errors: string[] = [];
  const [metrics, streams, clients] = await Promise.allSettled([
    getText(adminPort, '/metrics'),
    getJson<{ streams: { state: string }[] }>(adminPort, '/api/v1/streams'),
    getJson<{ total: number }>(adminPort, '/api/v1/clients?limit=0'),
  ]);
  if (metrics.status === 'fulfilled' && metrics.value.status === 200) {
    const m = parseProm(metrics.value.body);
    const heap = promSum(m, 'nodejs_heap_size_used_bytes');
    values.heapMb = round(heap === undefined ? undefined : heap / MB);
    values.connections = promSum(m, 'sluice_connections');
    values.players = promSum(m, 'sluice_players');
    values.publishers = promSum(m, 'sluice_publishers');
    values.streams = promSum(m, 'sluice_streams');
    values.slabsInUse = promBy(m, 'sluice_stream_slabs', 'state')?.in_use;
    info.connectionsBy = promBy(m, 'sluice_connections', 'protocol');
    info.playersBy = promBy(m, 'sluice_players', 'protocol');
    info.evictedTotal = promSum(m, 'sluice_players_evicted_total');
    info.handshakeFailuresTotal = promSum(m, 'sluice_handshake_failures_total');
    info.connectionsTotal = promSum(m, 'sluice_connections_total');
    info.sessionErrors = promBy(m, 'sluice_session_errors_total', 'code');
    info.tagsDroppedTotal = promSum(m, 'sluice_tags_dropped_total');
    info.workerRestarts = promSum(m, 'sluice_worker_restarts_total');
    info.workers = promSum(m, 'sluice_workers');
    info.promFds = promSum(m, 'process_open_fds');
    const rss = promSum(m, 'process_resident_memory_bytes');
    info.promRssMb = round(rss === undefined ? undefined : rss / MB);
  } else errors.push(`/metrics: ${metrics.status === 'rejected' ? String(metrics.reason) : `HTTP ${metrics.value.status}`}`);
  if (streams.status === 'fulfilled') {
    const states: Record<string, number> = {};
    for (const s of streams.value.streams) states[s.state] = (states[s.state] ?? 0) + 1;
    info.streamStates = states;
    values.slabStreams = (states.live ?? 0) + (states.grace ?? 0);
  } else errors.push(`/api/v1/streams: ${String(streams.reason)}`);
  if (clients.status === 'fulfilled') values.clients = clients.value.total;
  else errors.push(`/api/v1/clients: ${String(clients.reason)}`);
  if (errors.length > 0) info.errors = errors;
  return { t: Number(t.toFixed(1)), phase, values, info };
}

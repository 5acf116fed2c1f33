/**
 * The soak runner's shapes: its options, one sample of the server, and the
 * tallies of what the churn did. Other soak files depend on these.
 */

export interface SoakOptions {
  /** Churn plus quiet period, minutes (fractions allowed). */
  minutes: number;
  /** Seconds between samples. */
  sampleSeconds: number;
  /** Where soak.json and server.log go. */
  out: string;
  /** Worker threads of the server under test. */
  workers: number;
  /** Stream slots: each publishes, stops, publishes again. */
  streams: number;
  /** Bound on players at once, stalled ones included. */
  maxPlayers: number;
  /** Video bitrate of each publisher, kbit/s (audio adds 128). */
  bitrateKbps: number;
  /** The server's player.stallTimeoutMs (a stalled player is evicted this long after its socket backs up). */
  stallTimeoutMs: number;
  /** The server's media.ringBytes, MiB: small rings are all written once within the warm-up. */
  ringMb: number;
  /** Quiet period at the end (no clients), seconds; default from the run's length. */
  quietSeconds: number;
  /** Seed of the churn's random choices (printed, so a run can be replayed roughly). */
  seed: number;
  /** No line per sample. */
  quiet: boolean;
}

export type Phase = 'baseline' | 'churn' | 'quiet';

/** The series the verdict judges; undefined = the scrape that feeds it failed. */
export interface SeriesValues {
  /** VmRSS of the server process (all threads), MB. */
  rssMb?: number;
  /** nodejs_heap_size_used_bytes: the primary thread only (workers' heaps are not exposed), MB. */
  heapMb?: number;
  /** Entries of /proc/PID/fd. */
  fds?: number;
  /** Threads: of /proc/PID/status. */
  threads?: number;
  /** sum of sluice_connections over protocols. */
  connections?: number;
  /** sum of sluice_players over protocols. */
  players?: number;
  publishers?: number;
  /** sluice_streams: live streams. */
  streams?: number;
  /** /api/v1/streams entries that hold a slab (live + grace): the nearest thing to slab-pool use the server exposes. */
  slabStreams?: number;
  /** sluice_stream_slabs{state="in_use"}: the slab pool's own count (ended streams still read by a worker included). */
  slabsInUse?: number;
  /** /api/v1/clients total. */
  clients?: number;
}

export type SeriesName = keyof SeriesValues;

export interface Sample {
  /** Seconds since the run started (the server was up). */
  t: number;
  phase: Phase;
  values: SeriesValues;
  /** Context, not judged: per-protocol gauges, counters, directory states. */
  info: SampleInfo;
}

export interface SampleInfo {
  connectionsBy?: Record<string, number>;
  playersBy?: Record<string, number>;
  /** /api/v1/streams by state (live, grace, waiting). */
  streamStates?: Record<string, number>;
  evictedTotal?: number;
  handshakeFailuresTotal?: number;
  connectionsTotal?: number;
  sessionErrors?: Record<string, number>;
  tagsDroppedTotal?: number;
  workerRestarts?: number;
  workers?: number;
  /** prom-client's process_open_fds and process_resident_memory_bytes (whole process), a cross-check of /proc. */
  promFds?: number;
  promRssMb?: number;
  /** What failed to answer this time. */
  errors?: string[];
}

/** One kind of client's outcome counts. */
export type Counts = Record<string, number>;

/** What the churn did, for the report. */
export interface Tallies {
  publishers: Counts;
  players: Record<string, Counts>;
  stalls: Record<string, Counts>;
  /** ms from a stalled player's last read to the server closing it. */
  stallClosedAfterMs: number[];
  stallEvents: { protocol: string; outcome: string; msAfterPause: number }[];
  abuse: Record<string, Counts>;
}

export function bump(c: Counts, key: string, by = 1): void {
  c[key] = (c[key] ?? 0) + by;
}

/**
 * What a load test run is told: the options `runLoadtest` takes (the CLI
 * parses them from flags in args.ts), their defaults and their checks.
 */
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { SluiceError } from '../src/core/errors.js';

/** The transports that push a stream down one connection (the soak test's players use these). */
export const STREAMED_PROTOCOLS = ['rtmp', 'http-flv', 'ws-flv'] as const;
export type StreamedProtocol = (typeof STREAMED_PROTOCOLS)[number];
/** ...and LL-HLS, which polls (hls-player.ts). */
export const PLAY_PROTOCOLS = [...STREAMED_PROTOCOLS, 'hls'] as const;
export type PlayProtocol = (typeof PLAY_PROTOCOLS)[number];

export interface LoadtestOptions {
  /** rtmp://host[:port]/app the publishers publish to (and RTMP players play from). */
  target: string;
  /** Synthetic (or --file) publishers, one stream each. */
  publishers: number;
  /** Players per stream. */
  players: number;
  /** Protocols the players use, assigned round-robin (player i uses protocols[i % n]). */
  playProtocols: PlayProtocol[];
  /** HTTP-FLV/WS-FLV URL with {host} {app} {stream}; ws(s):// is derived from http(s):// for WS-FLV, .m3u8 from .flv for HLS. */
  playUrlTemplate: string;
  /** Video bitrate, kbit/s (audio adds AUDIO_BITRATE_KBPS when on). */
  bitrateKbps: number;
  fps: number;
  /** Frames from one keyframe to the next. */
  gop: number;
  audio: boolean;
  /** Replay this FLV file (looping) instead of synthetic frames. */
  file: string | undefined;
  /** Seconds over which all players are connected, evenly spaced. */
  rampS: number;
  /** Seconds the streams run before the first player connects (HLS: a first segment exists, as on a stream live for a while). */
  warmupS: number;
  /** Seconds the whole run lasts, from start until publishers stop. */
  durationS: number;
  /** Threads for player groups (publishers get their own, see run.ts). */
  threads: number;
  /** Streams are named `${streamPrefix}-${i}`. */
  streamPrefix: string;
  allowRemote: boolean;
  /** Do not check TLS certificates (rtmps://, https://, wss://): test servers with self-signed ones. */
  insecure: boolean;
  /** Bound on each connect/publish/play wait, ms. */
  timeoutMs: number;
  /** Pass/fail limits (checked by the CLI, see summary.ts). */
  maxP99Ms: number | undefined;
  maxGapRate: number | undefined;
  minThroughputMbps: number | undefined;
}

export type LoadtestInput = Partial<LoadtestOptions> & Pick<LoadtestOptions, 'target'>;

export const DEFAULT_URL_TEMPLATE = 'http://{host}:8080/{app}/{stream}.flv';

export function defaultOptions(target: string): LoadtestOptions {
  return {
    target,
    publishers: 1,
    players: 10,
    playProtocols: ['rtmp'],
    playUrlTemplate: DEFAULT_URL_TEMPLATE,
    bitrateKbps: 2000,
    fps: 25,
    gop: 50,
    audio: true,
    file: undefined,
    rampS: 1,
    warmupS: 0,
    durationS: 30,
    threads: availableParallelism(),
    streamPrefix: `lt-${randomBytes(3).toString('hex')}`,
    allowRemote: false,
    insecure: false,
    timeoutMs: 10000,
    maxP99Ms: undefined,
    maxGapRate: undefined,
    minThroughputMbps: undefined,
  };
}

/** Defaults filled in and every value checked; throws ERR_CONFIG naming the bad option. */
export function resolveOptions(input: LoadtestInput): LoadtestOptions {
  const o: LoadtestOptions = { ...defaultOptions(input.target) };
  for (const [k, v] of Object.entries(input)) if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  const int = (name: string, v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) throw new SluiceError('ERR_CONFIG', `--${name}: expected an integer in ${min}..${max}, got ${v}`);
  };
  const num = (name: string, v: number | undefined, min: number, max: number): void => {
    if (v !== undefined && (!Number.isFinite(v) || v < min || v > max)) throw new SluiceError('ERR_CONFIG', `--${name}: expected a number in ${min}..${max}, got ${v}`);
  };
  int('publishers', o.publishers, 1, 10000);
  int('players', o.players, 0, 100000);
  int('gop', o.gop, 1, 100000);
  int('threads', o.threads, 1, 1024);
  int('timeout', o.timeoutMs, 100, 600000);
  num('bitrate', o.bitrateKbps, 8, 1000000);
  num('fps', o.fps, 1, 1000);
  num('ramp', o.rampS, 0, 3600);
  num('warmup', o.warmupS, 0, 3600);
  num('duration', o.durationS, 0.5, 86400);
  num('max-p99', o.maxP99Ms, 0, Infinity);
  num('max-gap-rate', o.maxGapRate, 0, 1);
  num('min-throughput', o.minThroughputMbps, 0, Infinity);
  if (o.playProtocols.length === 0) throw new SluiceError('ERR_CONFIG', `--play-protocol: at least one of ${PLAY_PROTOCOLS.join(', ')}`);
  for (const p of o.playProtocols) {
    if (!PLAY_PROTOCOLS.includes(p)) throw new SluiceError('ERR_CONFIG', `--play-protocol: "${p}" is not one of ${PLAY_PROTOCOLS.join(', ')}`);
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(o.streamPrefix)) throw new SluiceError('ERR_CONFIG', `--stream-prefix: "${o.streamPrefix}" (letters, digits, _ . - only)`);
  if (o.rampS >= o.durationS) throw new SluiceError('ERR_CONFIG', `--ramp ${o.rampS} s must be shorter than --duration ${o.durationS} s`);
  if (o.warmupS + o.rampS >= o.durationS) throw new SluiceError('ERR_CONFIG', `--warmup ${o.warmupS} s + --ramp ${o.rampS} s must be shorter than --duration ${o.durationS} s`);
  return o;
}

export function streamName(o: Pick<LoadtestOptions, 'streamPrefix'>, index: number): string {
  return `${o.streamPrefix}-${index}`;
}

/**
 * The cross-thread protocol of a run: what the main thread hands each
 * piscina task, what tasks post back while running (over the MessagePort
 * passed in the task), and the envelope a task returns. Everything a task
 * sends is msgpackr-encoded; histograms inside are HdrHistogram compressed
 * base64 strings.
 *
 *   main → task    task input (piscina run), then { type: 'stop' } on the port to end early
 *   task → main    'ready' once (publishers: all publish attempts settled)
 *                  'tick' once a second, aligned to t0 + k s: counters since the last tick + a latency histogram of that second
 *   task → main    the envelope, as the task's return value
 */
import type { MessagePort } from 'node:worker_threads';
import { pack, unpack } from 'msgpackr';
import type { HistogramName, PlayerHistogramName } from './histograms.js';
import type { LoadtestOptions, PlayProtocol } from './options.js';

/** Counters a task keeps; the main thread adds them up across tasks. */
export interface Totals {
  /** Players whose play request succeeded. */
  playersConnected: number;
  /** Players that could not connect or play. */
  playersFailed: number;
  /** Players the server (or an error) disconnected before the end. */
  playersDropped: number;
  /** Players that received at least one marked video frame. */
  playersWithFrames: number;
  /** Players that received onMetaData and every sequence header the stream has. */
  playersWithHeaders: number;
  bytesIn: number;
  /** Marked frames received, video and audio. */
  framesIn: number;
  /** Of those, frames scheduled before the player asked to play (the server's GOP cache): no latency recorded. */
  cachedFrames: number;
  /** Frames missing between two received ones (per stream and kind). */
  gaps: number;
  /** Frames older than one already received. */
  reorders: number;
  /** Frames whose marker names another stream than the one played. */
  foreignFrames: number;
  publishersLive: number;
  publishersFailed: number;
  publishersDropped: number;
  framesSent: number;
  bytesOut: number;
}

export function zeroTotals(): Totals {
  return {
    playersConnected: 0, playersFailed: 0, playersDropped: 0, playersWithFrames: 0, playersWithHeaders: 0,
    bytesIn: 0, framesIn: 0, cachedFrames: 0, gaps: 0, reorders: 0, foreignFrames: 0,
    publishersLive: 0, publishersFailed: 0, publishersDropped: 0, framesSent: 0, bytesOut: 0,
  };
}

/** a += b, field by field; returns a. */
export function addTotals(a: Totals, b: Partial<Totals>): Totals {
  for (const k of Object.keys(b) as (keyof Totals)[]) a[k] += b[k] ?? 0;
  return a;
}

/** a - b, field by field (the counters of one interval). */
export function diffTotals(a: Totals, b: Totals): Totals {
  const out = zeroTotals();
  for (const k of Object.keys(out) as (keyof Totals)[]) out[k] = a[k] - b[k];
  return out;
}

interface TaskBase {
  task: number;
  options: LoadtestOptions;
  /** Start of the run (wall-clock ms): ticks are counted from here. */
  t0Ms: number;
  /** Publishers stop sending at this wall-clock ms. */
  endMs: number;
  /** Every client closes at this wall-clock ms (a little after endMs, so frames in flight arrive). */
  stopMs: number;
  port: MessagePort;
}

export interface PublisherTaskInput extends TaskBase {
  kind: 'publish';
  /** Publisher (= stream) indices this task runs. */
  publishers: number[];
}

export interface PlayerAssignment {
  /** Index among all players of the run: sets its place in the ramp. */
  index: number;
  stream: number;
  name: string;
  protocol: PlayProtocol;
  url: string;
}

export interface ExpectedHeaders {
  metadata: boolean;
  audio: boolean;
}

export interface PlayerTaskInput extends TaskBase {
  kind: 'play';
  players: PlayerAssignment[];
  totalPlayers: number;
  /** Player i connects at rampStartMs + rampMs * i / totalPlayers. */
  rampStartMs: number;
  rampMs: number;
  /** What a player must receive before media to count in playersWithHeaders (a video sequence header always). */
  expectHeaders: ExpectedHeaders;
}

export type TaskInput = PublisherTaskInput | PlayerTaskInput;

export interface ReadyMessage {
  type: 'ready';
  task: number;
  live: number;
  failed: number;
  /** The first failure, to say why when nothing is live. */
  error?: string;
}

export interface TickMessage {
  type: 'tick';
  task: number;
  /** Seconds since t0: this message covers (tick-1, tick]. */
  tick: number;
  delta: Totals;
  /** Players playing / publishers live right now. */
  playing: number;
  live: number;
  /** Video latency recorded during this second. */
  latency: string;
}

export type TaskMessage = ReadyMessage | TickMessage;

export interface StopMessage {
  type: 'stop';
}

export interface TaskEnvelope {
  task: number;
  kind: TaskInput['kind'];
  totals: Totals;
  byProtocol: Partial<Record<PlayProtocol, Totals>>;
  histograms: Partial<Record<HistogramName, string>>;
  /** The player histograms again, per play protocol. */
  protocolHistograms: Partial<Record<PlayProtocol, Partial<Record<PlayerHistogramName, string>>>>;
  /** Error message → how many clients ended with it. */
  errors: Record<string, number>;
}

export function packMessage(m: TaskMessage | TaskEnvelope): Uint8Array {
  return pack(m);
}

export function unpackMessage<T extends TaskMessage | TaskEnvelope>(bytes: Uint8Array): T {
  return unpack(bytes) as T;
}

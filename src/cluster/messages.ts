/**
 * Messages between the primary and its workers (over the Worker's
 * parentPort), and between workers (over MessageChannel ports). Media
 * bytes never travel here: streams are shared as SharedArrayBuffer slabs,
 * and worker-to-worker ports carry only "head = N" notes (a number).
 */
import type { MessagePort } from 'node:worker_threads';
import type { ErrorCode } from '../core/errors.js';

/** A directory request it will not grant: the asker tells its client why; nothing is thrown across threads. */
export interface Refusal {
  ok: false;
  code: ErrorCode;
  reason: string;
}

/** What the directory grants a publisher. */
export type PublishGrant = { ok: true; id: number; sab: SharedArrayBuffer } | Refusal;

/**
 * What the directory grants a player's worker; undefined = no such stream.
 * A name that is only awaited has no slab yet (`sab` undefined): it comes
 * with the publisher, in `streamUp`, so waiting players cost no ring.
 */
export type SubscribeGrant =
  | {
      ok: true;
      id: number;
      sab: SharedArrayBuffer | undefined;
      live: boolean;
      /** Notes from the home worker, when another worker is home. */
      port?: MessagePort;
    }
  | Refusal;

/** Directory → worker events. */
export type DirectoryEvent =
  | { t: 'streamUp'; id: number; key: string; sab: SharedArrayBuffer; port?: MessagePort }
  | { t: 'streamDown'; id: number; key: string }
  | { t: 'streamEnd'; id: number; key: string; reason: string }
  | { t: 'attachReader'; id: number; key: string; port: MessagePort }
  /** (edge) Open the one upstream of this awaited stream: pull it from the origins and publish it here. `query` is the first player's. */
  | { t: 'pull'; id: number; key: string; query: string }
  /** (edge, to the home) Nobody has watched this pulled stream for edge.idleStopMs: close its upstream. */
  /** (cluster.redis, to the puller) The stream went live on some node: look it up again now instead of at the next retry. */
  | { t: 'pullWake'; id: number; key: string }
  | { t: 'pullStop'; id: number; key: string; reason: string; /** Stop even with local players (a client's publish takes the name). */ yield?: boolean };

/** How a client reaches a worker. */
export type ClientProtocol = 'rtmp' | 'http-flv' | 'ws-flv';

/**
 * Primary → worker requests of the control plane (admin API, metrics).
 * Each carries `req` and is answered with `answer {req, result}`.
 */
export type WorkerRequest =
  /** Stats: counters, streams, latency and (unless `clients` is false) every session and player; the answer is msgpackr bytes. */
  | { t: 'snapshot'; clients?: boolean }
  /** Close this client (RTMP session or FLV player, by its local id), logging `reason`; answer: found. */
  | { t: 'kick'; protocol: ClientProtocol; id: number; reason: string }
  /** Close the session publishing `key` here, logging `reason`; answer: found. */
  | { t: 'dropPublisher'; key: string; reason: string };

/** What each request is answered with. */
export interface WorkerAnswers {
  snapshot: Uint8Array;
  kick: boolean;
  dropPublisher: boolean;
}

/** Worker → primary. Requests carry `req` and get a `reply` with the same number. */
export type WorkerMessage =
  /** `claim`: a client's publish, which claims the name across nodes (cluster.redis). */
  | { t: 'publish'; req: number; key: string; ip?: string; claim?: boolean }
  /** The node another node advertises for a live name (cluster.redis); the reply's result is its URL or undefined. */
  | { t: 'locate'; req: number; key: string }
  | { t: 'subscribe'; req: number; key: string; query?: string }
  | { t: 'unpublish'; id: number; key: string }
  | { t: 'release'; id: number; key: string }
  | { t: 'listening'; port: number; httpPort: number | undefined }
  /** `result` undefined: the request failed on the worker (logged there). */
  | { t: 'answer'; req: number; result: WorkerAnswers[WorkerRequest['t']] | undefined }
  | { t: 'drained' }
  | { t: 'crashed'; reason: string }
  /** (edge, home of a pulled stream) it has local players now / none any more. */
  | { t: 'watched'; id: number; key: string; yes: boolean }
  /** (edge) the pull asked for ended without publishing (no origin had it in time). */
  | { t: 'pullEnded'; id: number; key: string; reason: string }
  /** Sent every cluster.heartbeatMs: a worker that stops sending is stuck. */
  | { t: 'heartbeat' };

/** Primary → worker. */
export type PrimaryMessage =
  | { t: 'reply'; req: number; result: PublishGrant | SubscribeGrant | string | undefined }
  | DirectoryEvent
  | (WorkerRequest & { req: number })
  | { t: 'drain'; reason: string }
  | { t: 'crash'; message: string }
  /** Drill (crashHook only): block the event loop this long, as a busy loop would. */
  | { t: 'hang'; ms: number };

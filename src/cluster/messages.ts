/**
 * Messages between the primary and its workers (over the Worker's
 * parentPort), and between workers (over MessageChannel ports). Media
 * bytes never travel here: streams are shared as SharedArrayBuffer slabs,
 * and worker-to-worker ports carry only "head = N" notes (a number).
 */
import type { MessagePort } from 'node:worker_threads';

/** What the directory grants a publisher. */
export type PublishGrant =
  | { ok: true; id: number; sab: SharedArrayBuffer }
  | { ok: false; reason: string };

/** What the directory grants a player's worker; undefined = no such stream. */
export interface SubscribeGrant {
  id: number;
  sab: SharedArrayBuffer;
  live: boolean;
  /** Notes from the home worker, when another worker is home. */
  port?: MessagePort;
}

/** Directory → worker events. */
export type DirectoryEvent =
  | { t: 'streamUp'; id: number; key: string; port?: MessagePort }
  | { t: 'streamDown'; id: number; key: string }
  | { t: 'streamEnd'; id: number; key: string; reason: string }
  | { t: 'attachReader'; id: number; key: string; port: MessagePort };

/** Worker → primary. Requests carry `req` and get a `reply` with the same number. */
export type WorkerMessage =
  | { t: 'publish'; req: number; key: string }
  | { t: 'subscribe'; req: number; key: string }
  | { t: 'unpublish'; id: number; key: string }
  | { t: 'release'; id: number; key: string }
  | { t: 'listening'; port: number; httpPort: number | undefined }
  | { t: 'snapshot'; req: number; data: Uint8Array }
  | { t: 'drained' }
  | { t: 'crashed'; reason: string };

/** Primary → worker. */
export type PrimaryMessage =
  | { t: 'reply'; req: number; result: PublishGrant | SubscribeGrant | undefined }
  | DirectoryEvent
  | { t: 'snapshot'; req: number }
  | { t: 'drain'; reason: string }
  | { t: 'crash'; message: string };

/**
 * A worker's link to the directory in the primary, over its parentPort.
 * Requests carry a number; the primary's reply carries it back.
 */
import type { MessagePort } from 'node:worker_threads';
import { SluiceError } from '../core/errors.js';
import type { PrimaryMessage, PublishGrant, SubscribeGrant, WorkerMessage } from './messages.js';
import type { DirectoryLink } from './worker-hub.js';

/** A directory answer slower than this means the primary is wedged. */
const REQUEST_TIMEOUT_MS = 10000;

export class ParentLink implements DirectoryLink {
  private nextReq = 1;
  private readonly waiting = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(private readonly port: MessagePort) {}

  post(m: WorkerMessage): void {
    this.port.postMessage(m);
  }

  private request<T>(m: { t: 'publish' | 'subscribe' | 'locate'; key: string; query?: string; ip?: string; claim?: boolean }): Promise<T> {
    const req = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(req);
        reject(new SluiceError('ERR_INTERNAL', `directory ${m.t} ${m.key}: no answer in ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.waiting.set(req, { resolve: resolve as (v: never) => void, reject, timer });
      this.post({ ...m, req });
    });
  }

  /** Routes a reply to its request; returns false for any other message. */
  onReply(m: PrimaryMessage): boolean {
    if (m.t !== 'reply') return false;
    const w = this.waiting.get(m.req);
    if (w) {
      this.waiting.delete(m.req);
      clearTimeout(w.timer);
      w.resolve(m.result as never);
    }
    return true;
  }

  publish(key: string, ip: string | undefined, claim: boolean): Promise<PublishGrant> {
    return this.request({ t: 'publish', key, ip, claim });
  }

  locate(key: string): Promise<string | undefined> {
    return this.request({ t: 'locate', key });
  }

  subscribe(key: string, query?: string): Promise<SubscribeGrant | undefined> {
    return this.request({ t: 'subscribe', key, ...(query ? { query } : {}) });
  }

  unpublish(id: number, key: string): void {
    this.post({ t: 'unpublish', id, key });
  }

  release(id: number, key: string): void {
    this.post({ t: 'release', id, key });
  }

  watched(id: number, key: string, yes: boolean): void {
    this.post({ t: 'watched', id, key, yes });
  }

  pullEnded(id: number, key: string, reason: string): void {
    this.post({ t: 'pullEnded', id, key, reason });
  }
}

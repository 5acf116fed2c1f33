/**
 * HTTP callbacks compatible with SRS's http_hooks, so an existing SRS hook
 * backend works unchanged: each event POSTs a JSON body to every URL
 * configured for it. A start event (on_connect, on_publish, on_play) is
 * allowed only when every URL answers 200 with a body of `0` or
 * `{"code":0}`; a timeout, another status, an unreadable or oversized reply
 * is an error, and hooks.onError decides (deny by default: fail closed). An
 * end event (on_unpublish, on_stop) never blocks a session: it is sent in
 * the background and retried with backoff.
 */
import { SluiceError, describeError } from '../core/errors.js';

export type HookEvent = 'on_connect' | 'on_publish' | 'on_play' | 'on_unpublish' | 'on_stop';

export interface HookOptions {
  urls: Record<HookEvent, string[]>;
  timeoutMs: number;
  onError: 'deny' | 'allow';
  /** A reply larger than this is an error. */
  maxReplyBytes: number;
  /** End events: attempts after the first. */
  retries: number;
  serverId: string;
}

/** The SRS body fields (the event adds `action`). */
export type HookBody = Record<string, string | number>;

/** Why a start event was refused, for the refusal's reason label. */
export class HookRefusal extends Error {
  constructor(
    readonly reason: 'hook-denied' | 'hook-error',
    message: string,
  ) {
    super(message);
  }
}

export class HttpHooks {
  constructor(
    private readonly o: HookOptions,
    private readonly log?: { warn(o: object, m: string): void },
  ) {}

  has(event: HookEvent): boolean {
    return this.o.urls[event].length > 0;
  }

  /** Resolves when every URL allows; throws HookRefusal otherwise (an error counts as allow under onError: allow). */
  async ask(event: HookEvent, body: HookBody): Promise<void> {
    const payload = this.payload(event, body);
    await Promise.all(
      this.o.urls[event].map(async (url) => {
        let verdict: 'allow' | 'deny';
        try {
          verdict = await this.post(url, payload);
        } catch (err) {
          this.log?.warn({ hook: event, url, reason: describeError(err), onError: this.o.onError }, 'hook failed');
          if (this.o.onError === 'allow') return;
          // The client hears no URL or backend detail; the log above has them.
          throw new HookRefusal('hook-error', `${event}: the access check failed`);
        }
        if (verdict === 'deny') {
          this.log?.warn({ hook: event, url }, 'hook denied');
          throw new HookRefusal('hook-denied', `${event}: denied`);
        }
      }),
    );
  }

  /** Fire and forget, with retries; never throws. */
  tell(event: HookEvent, body: HookBody): void {
    const payload = this.payload(event, body);
    for (const url of this.o.urls[event]) void this.deliver(event, url, payload);
  }

  private async deliver(event: HookEvent, url: string, payload: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.post(url, payload);
        return;
      } catch (err) {
        if (attempt >= this.o.retries) {
          this.log?.warn({ hook: event, url, reason: describeError(err), attempts: attempt + 1 }, 'hook not delivered');
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt).unref());
      }
    }
  }

  private payload(event: HookEvent, body: HookBody): string {
    return JSON.stringify({ server_id: this.o.serverId, action: event, ...body });
  }

  /** One POST; the verdict of a 200, or throws for anything else. */
  private async post(url: string, payload: string): Promise<'allow' | 'deny'> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: payload,
      signal: AbortSignal.timeout(this.o.timeoutMs),
    }).catch((err: unknown) => {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new SluiceError(timedOut ? 'ERR_TIMEOUT' : 'ERR_UPSTREAM', timedOut ? `no answer within ${this.o.timeoutMs} ms (hooks.timeoutMs)` : 'unreachable', { cause: err });
    });
    const text = await readBounded(res, this.o.maxReplyBytes);
    if (res.status !== 200) throw new SluiceError('ERR_UPSTREAM', `HTTP ${res.status}`);
    return allows(text) ? 'allow' : 'deny';
  }
}

/** SRS's rule: the body is `0`, or JSON whose `code` is 0. */
export function allows(text: string): boolean {
  const t = text.trim();
  if (t === '0') return true;
  try {
    const v: unknown = JSON.parse(t);
    return typeof v === 'object' && v !== null && (v as { code?: unknown }).code === 0;
  } catch {
    return false;
  }
}

async function readBounded(res: Response, max: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = res.body?.getReader();
  if (!reader) return '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      await reader.cancel();
      throw new SluiceError('ERR_LIMIT', `reply over ${max} bytes (hooks.maxReplyBytes)`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Signed URLs without a backend: `?expires=<unix seconds>&sign=<hex>`, where
 * sign = HMAC-SHA256(secret, "<action>:<app>/<name>:<expires>"), with
 * ":<client ip>" appended when access.signed.bindIp is on. Any of several
 * secrets verifies (rotation: add the new one, move signers, drop the old).
 * Comparison is constant-time. docs/access.md shows the shell one-liner.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignedAction = 'publish' | 'play';

export interface SignedInput {
  action: SignedAction;
  app: string;
  name: string;
  /** The URL query (without "?"). */
  query: string;
  ip: string;
  /** Seconds since the epoch. */
  nowSec: number;
}

/** The string a signature covers. */
export function signedPayload(action: SignedAction, app: string, name: string, expires: string, ip?: string): string {
  return `${action}:${app}/${name}:${expires}${ip === undefined ? '' : `:${ip}`}`;
}

export function sign(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** Undefined when one of `secrets` signed this request and it has not expired; else the reason (logged, and the metric label). */
export function signatureRefusal(secrets: readonly string[], bindIp: boolean, r: SignedInput): 'unsigned' | 'expired' | 'bad-signature' | undefined {
  const q = new URLSearchParams(r.query);
  const expires = q.get('expires');
  const given = q.get('sign');
  if (expires === null || given === null) return 'unsigned';
  if (!/^\d{1,12}$/.test(expires) || !/^[0-9a-f]{64}$/i.test(given)) return 'bad-signature';
  if (Number(expires) < r.nowSec) return 'expired';
  const want = Buffer.from(given.toLowerCase(), 'hex');
  const payload = signedPayload(r.action, r.app, r.name, expires, bindIp ? r.ip : undefined);
  let ok = false;
  // Every secret is tried, so the time taken does not tell which one matched.
  for (const s of secrets) ok = timingSafeEqual(Buffer.from(sign(s, payload), 'hex'), want) || ok;
  return ok ? undefined : 'bad-signature';
}

/**
 * The one access decision for publish and play, whatever the transport:
 * the stream service asks it before the directory is, so a rule written
 * here holds for RTMP, HTTP-FLV and WS-FLV alike, and nothing is sent or
 * accepted before it. Order: IP rules, then signed URLs. A refusal is an
 * AccessRefused (ERR_ACCESS) carrying the metric reason and the HTTP status
 * each transport maps to its own refusal.
 */
import { SluiceError } from '../core/errors.js';
import { IpRules, plainIp, type IpRuleLists } from './ip-rules.js';
import { signatureRefusal, type SignedAction } from './signed-url.js';

export type AccessAction = SignedAction;
export type Transport = 'rtmp' | 'http-flv' | 'ws-flv';

/** Who asks: what a transport knows of its client. */
export interface AccessClient {
  ip: string;
  transport: Transport;
}

export interface AccessRequest extends AccessClient {
  action: AccessAction;
  app: string;
  name: string;
  query: string;
}

export interface AccessOptions {
  publish: IpRuleLists;
  play: IpRuleLists;
  signed: { publishSecrets: string[]; playSecrets: string[]; bindIp: boolean };
}

export class AccessRefused extends SluiceError {
  constructor(
    readonly action: AccessAction,
    /** The metric label: ip-denied, unsigned, expired, bad-signature. */
    readonly reason: string,
    /** What HTTP answers: 401 without valid credentials, 403 when they cannot help. */
    readonly status: 401 | 403,
    message: string,
  ) {
    super('ERR_ACCESS', message);
  }
}

export class AccessPolicy {
  private readonly ip: Record<AccessAction, IpRules>;

  constructor(
    private readonly opts: AccessOptions,
    /** Nothing else to do (no rule configured): the stream service may skip the call. */
    readonly open = isOpen(opts),
    private readonly now: () => number = Date.now,
  ) {
    this.ip = { publish: new IpRules(opts.publish), play: new IpRules(opts.play) };
  }

  /** Throws AccessRefused unless `r` may go on. */
  check(r: AccessRequest): void {
    const ipWhy = this.ip[r.action].refusal(r.ip);
    if (ipWhy) throw new AccessRefused(r.action, 'ip-denied', 403, `${r.action} from ${ipWhy}`);
    const s = this.opts.signed;
    const secrets = r.action === 'publish' ? s.publishSecrets : s.playSecrets;
    if (secrets.length === 0) return;
    const why = signatureRefusal(secrets, s.bindIp, { ...r, ip: plainIp(r.ip), nowSec: Math.floor(this.now() / 1000) });
    if (why) throw new AccessRefused(r.action, why, 401, `${r.action}: ${SIGN_TEXT[why]}`);
  }
}

const SIGN_TEXT = {
  unsigned: 'a signed URL is required (expires, sign)',
  expired: 'the signed URL has expired',
  'bad-signature': 'the URL signature does not match',
} as const;

function isOpen(o: AccessOptions): boolean {
  const lists = [o.publish.allow, o.publish.deny, o.play.allow, o.play.deny, o.signed.publishSecrets, o.signed.playSecrets];
  return lists.every((l) => l.length === 0);
}

/**
 * The one access decision for publish and play, whatever the transport:
 * the stream service asks it before the directory is, so a rule written
 * here holds for RTMP, HTTP-FLV and WS-FLV alike, and nothing is sent or
 * accepted before it. Order: IP rules, then signed URLs, then the HTTP
 * callbacks (hooks.ts), which also hear of each end. A refusal is an
 * AccessRefused (ERR_ACCESS) carrying the metric reason and the HTTP status
 * each transport maps to its own refusal.
 */
import { SluiceError } from '../core/errors.js';
import { IpRules, plainIp, type IpRuleLists } from './ip-rules.js';
import { signatureRefusal, type SignedAction } from './signed-url.js';
import { HookRefusal, type HookBody, type HttpHooks } from './hooks.js';

export type AccessAction = SignedAction | 'connect';
export type Transport = 'rtmp' | 'http-flv' | 'ws-flv' | 'hls';

/** Who asks: what a transport knows of its client. */
export interface AccessClient {
  ip: string;
  transport: Transport;
  /** As the admin API names it (e.g. 0-rtmp-5). */
  clientId: string;
  /** RTMP: connect's tcUrl; HTTP: the request URL. */
  tcUrl: string;
  pageUrl?: string;
}

export interface AccessRequest extends AccessClient {
  action: AccessAction;
  app: string;
  /** Empty for connect. */
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
    /** The metric label: ip-denied, unsigned, expired, bad-signature, hook-denied, hook-error. */
    readonly reason: string,
    /** What HTTP answers: 401 without valid credentials, 403 when they cannot help, 503 when the hook backend failed. */
    readonly status: 401 | 403 | 429 | 503,
    message: string,
  ) {
    super('ERR_ACCESS', message);
  }
}

export class AccessPolicy {
  private readonly ip: Record<SignedAction, IpRules>;

  /** Nothing to do (no rule, no hook): callers may skip the call. */
  readonly open: boolean;

  constructor(
    private readonly opts: AccessOptions,
    private readonly hooks?: HttpHooks,
    private readonly now: () => number = Date.now,
  ) {
    this.ip = { publish: new IpRules(opts.publish), play: new IpRules(opts.play) };
    this.open = isOpen(opts) && !(hooks && (['on_connect', 'on_publish', 'on_play'] as const).some((e) => hooks.has(e)));
  }

  /** Resolves when `r` may go on; rejects with AccessRefused. */
  async check(r: AccessRequest): Promise<void> {
    if (r.action !== 'connect') this.checkStatic(r, r.action);
    if (!this.hooks?.has(START[r.action])) return;
    try {
      await this.hooks.ask(START[r.action], hookBody(r));
    } catch (err) {
      if (!(err instanceof HookRefusal)) throw err;
      throw new AccessRefused(r.action, err.reason, err.reason === 'hook-denied' ? 403 : 503, err.message);
    }
  }

  /** A checked publish or play ended: on_unpublish / on_stop, in the background. */
  ended(r: AccessRequest): void {
    if (r.action === 'connect') return;
    const event = r.action === 'publish' ? 'on_unpublish' : 'on_stop';
    if (this.hooks?.has(event)) this.hooks.tell(event, hookBody(r));
  }

  private checkStatic(r: AccessRequest, action: SignedAction): void {
    const ipWhy = this.ip[action].refusal(r.ip);
    if (ipWhy) throw new AccessRefused(action, 'ip-denied', 403, `${action} from ${ipWhy}`);
    const s = this.opts.signed;
    const secrets = action === 'publish' ? s.publishSecrets : s.playSecrets;
    if (secrets.length === 0) return;
    const why = signatureRefusal(secrets, s.bindIp, { ...r, action, ip: plainIp(r.ip), nowSec: Math.floor(this.now() / 1000) });
    if (why) throw new AccessRefused(action, why, 401, `${action}: ${SIGN_TEXT[why]}`);
  }
}

const START = { connect: 'on_connect', publish: 'on_publish', play: 'on_play' } as const;

/** The fields SRS sends (its hook backends read these names). */
function hookBody(r: AccessRequest): HookBody {
  const b: HookBody = { client_id: r.clientId, ip: plainIp(r.ip), vhost: '__defaultVhost__', app: r.app, tcUrl: r.tcUrl };
  if (r.action === 'connect') return { ...b, pageUrl: r.pageUrl ?? '' };
  const stream = { stream: r.name, param: r.query ? `?${r.query}` : '', stream_url: `/${r.app}/${r.name}` };
  return r.action === 'play' ? { ...b, ...stream, pageUrl: r.pageUrl ?? '' } : { ...b, ...stream };
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

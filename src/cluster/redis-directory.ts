/**
 * The stream directory across nodes, in Redis. A node that goes live with
 * a client's publish claims `<prefix>stream:<app/name>` with its advertised
 * RTMP address (SET NX, a TTL it keeps refreshing), so a second publisher of
 * the name on another node gets BadName, and an edge (or an origin asked for
 * a stream it does not have) finds the node to pull from. The key goes on
 * unpublish; a node that dies without cleanup is forgotten within the TTL.
 *
 * Redis is never on the local path: when it is unreachable, claims and
 * lookups fail soft (a publish is granted on this node's own word, a lookup
 * finds nothing and the static origin list is used), and this is logged,
 * counted and shown on /readyz. The per-node StreamDirectory stays the
 * authority on this node.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describeError } from '../core/errors.js';
import type { PublishGrant, Refusal } from './messages.js';

export interface RedisDirectoryOptions {
  url: string;
  keyPrefix: string;
  ttlMs: number;
  refreshMs: number;
  commandTimeoutMs: number;
  /** This node's RTMP address for other nodes (rtmp://host:port); a function, as a port 0 is known only once listening. */
  advertise: () => string;
  /** Whether this node's publishes claim names (not on an edge: its streams are copies). */
  claims: boolean;
  /** A node that pulls: told of every name that goes live on any node (pub/sub), so waiting pulls need not poll. */
  onLive?: (name: string) => void;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

export interface RedisDirectoryStats {
  up: boolean;
  /** Date.now() when Redis became unreachable (while down). */
  downSince: number | undefined;
  errors: number;
  claims: { granted: number; taken: number; unavailable: number };
  lookups: { found: number; missing: number; unavailable: number };
  /** A name this node held was found claimed by another node on refresh (both were live during an outage). */
  conflicts: number;
  /** Names this node holds now. */
  held: number;
}

/**
 * Sets the key when free, refreshes it when ours. Returns 1 (new), 2 (was
 * ours) or the other owner's value. A value with our own address (ARGV[3])
 * but another token is this node's previous process, restarted before its
 * key expired: only one process can listen on an address, so it is taken over.
 */
const CLAIM = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 2 end
if not v or string.sub(v, 1, string.len(ARGV[3])) == ARGV[3] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return v`;
/** Deletes the key only while it is ours: a name another node took since stays its. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type Scripted = Redis & {
  sluiceClaim(key: string, value: string, ttlMs: number, ownPrefix: string): Promise<number | string>;
  sluiceRelease(key: string, value: string): Promise<number>;
};

/** The advertised URL in a key's value `url token`. */
const urlOf = (value: string): string => value.split(' ')[0]!;

export class RedisDirectory {
  private readonly redis: Scripted;
  /** Names this node claimed and holds (refreshed every refreshMs). */
  private readonly held = new Set<string>();
  private readonly token = randomBytes(6).toString('hex');
  private readonly timer: NodeJS.Timeout;
  /** Subscriber connection (a Redis connection in subscribe mode can do nothing else). */
  private readonly sub: Redis | undefined;
  private up = false;
  private downSince: number | undefined = Date.now();
  private leaving = false;
  private readonly counts: Omit<RedisDirectoryStats, 'up' | 'downSince' | 'held'> = {
    errors: 0,
    claims: { granted: 0, taken: 0, unavailable: 0 },
    lookups: { found: 0, missing: 0, unavailable: 0 },
    conflicts: 0,
  };

  constructor(private readonly opts: RedisDirectoryOptions) {
    this.redis = new Redis(opts.url, {
      // Fail at once while disconnected: a publish must not wait for Redis to come back.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: Math.max(1000, opts.commandTimeoutMs),
      retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times - 1, 5), 5000),
      lazyConnect: false,
    }) as Scripted;
    this.redis.defineCommand('sluiceClaim', { numberOfKeys: 1, lua: CLAIM });
    this.redis.defineCommand('sluiceRelease', { numberOfKeys: 1, lua: RELEASE });
    this.redis.on('ready', () => this.setUp(true));
    this.redis.on('close', () => this.setUp(false));
    this.redis.on('error', (err: Error) => {
      this.counts.errors++;
      // One line per outage, not one per reconnect attempt.
      if (this.up || this.counts.errors === 1) opts.log.warn({ code: 'ERR_UPSTREAM', reason: describeError(err), redis: this.safeUrl() }, 'redis error');
    });
    if (opts.onLive) {
      const onLive = opts.onLive;
      // No retry limit: a SUBSCRIBE queued through a long outage must not be failed for good.
      this.sub = new Redis(opts.url, { retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times - 1, 5), 5000), lazyConnect: false, maxRetriesPerRequest: null });
      // Its errors are the main connection's too (counted and logged there).
      this.sub.on('error', () => undefined);
      void this.sub.subscribe(this.channel).catch(() => undefined);
      this.sub.on('message', (_channel: string, name: string) => onLive(name));
    }
    this.timer = setInterval(() => void this.refresh(), opts.refreshMs);
    this.timer.unref();
  }

  private key(name: string): string {
    return `${this.opts.keyPrefix}stream:${name}`;
  }

  private get channel(): string {
    return `${this.opts.keyPrefix}live`;
  }

  private get value(): string {
    return `${this.ownPrefix}${this.token}`;
  }

  /** Every value this node's address writes starts with it, whatever the process. */
  private get ownPrefix(): string {
    return `${this.opts.advertise()} `;
  }

  /** The URL without credentials, for logs. */
  private safeUrl(): string {
    try {
      const u = new URL(this.opts.url);
      if (u.username) u.username = '***';
      if (u.password) u.password = '***';
      return u.toString();
    } catch {
      return 'redis://(unparsable url)';
    }
  }

  private setUp(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    this.downSince = up ? undefined : Date.now();
    if (up) {
      this.opts.log.info({ redis: this.safeUrl(), held: this.held.size }, 'redis reachable: cross-node stream directory on');
      // Names claimed while it was away (or lost with a restarted Redis) are claimed again now.
      void this.refresh();
    } else if (!this.leaving) {
      this.opts.log.warn({ code: 'ERR_UPSTREAM', redis: this.safeUrl(), reason: 'connection lost' }, 'redis unreachable: local publish and play go on, cross-node lookups are off');
    }
  }

  /**
   * A client's publish of `name`: claims it across nodes, then `grant()`s it
   * on this node (the local directory decides); `refuse` gets BadName's
   * reason when another node has it. Redis down: granted on local word.
   */
  async claimFor(name: string, grant: () => PublishGrant | undefined, refuse: (r: Refusal) => void, makeRoom?: () => Promise<void> | undefined): Promise<void> {
    if (!this.opts.claims || this.leaving) return void grant();
    let r: number | string;
    try {
      r = await this.redis.sluiceClaim(this.key(name), this.value, this.opts.ttlMs, this.ownPrefix);
    } catch (err) {
      this.counts.claims.unavailable++;
      this.opts.log.warn({ streamKey: name, code: 'ERR_UPSTREAM', reason: describeError(err) }, 'cross-node claim skipped: redis unavailable');
      // Held anyway: the refresh claims it once Redis is back.
      if (grant()?.ok) this.held.add(name);
      return;
    }
    if (typeof r === 'string') {
      this.counts.claims.taken++;
      return refuse({ ok: false, code: 'ERR_STREAM', reason: `${name} is already being published on ${urlOf(r)}` });
    }
    // The name is ours across nodes: a pulled copy of it here (from a node that is gone) gives way first.
    await makeRoom?.();
    const granted = grant()?.ok === true;
    if (granted) {
      this.counts.claims.granted++;
      this.held.add(name);
      if (r === 1) void this.redis.publish(this.channel, name).catch(() => undefined);
    } else if (r === 1 && !this.held.has(name)) {
      // Claimed for a publish this node then refused (no room): give the name back.
      void this.drop(name);
    }
  }

  /** This node's publish of `name` ended (or never started): its key goes. */
  released(name: string): void {
    if (this.held.has(name)) void this.drop(name);
  }

  private async drop(name: string): Promise<void> {
    this.held.delete(name);
    try {
      await this.redis.sluiceRelease(this.key(name), this.value);
    } catch (err) {
      // It expires within ttlMs anyway.
      this.opts.log.warn({ streamKey: name, code: 'ERR_UPSTREAM', reason: describeError(err) }, 'cross-node release failed; the key expires by itself');
    }
  }

  /** The RTMP address of the node that publishes `name`; undefined when none (or it is this node, or Redis is down). */
  async locate(name: string): Promise<string | undefined> {
    let v: string | null;
    try {
      v = await this.redis.get(this.key(name));
    } catch (err) {
      this.counts.lookups.unavailable++;
      this.opts.log.warn({ streamKey: name, code: 'ERR_UPSTREAM', reason: describeError(err) }, 'cross-node lookup failed: using edge.origins');
      return undefined;
    }
    const url = v === null ? undefined : urlOf(v);
    if (url !== undefined && !/^rtmps?:\/\/[^/\s]+$/.test(url)) {
      // Not a node's value (another tool, a typo by hand): no pull is tried there.
      this.counts.lookups.missing++;
      this.opts.log.warn({ streamKey: name, code: 'ERR_PROTOCOL', reason: `redis value ${JSON.stringify(v!.slice(0, 80))} names no rtmp[s]://host:port` }, 'cross-node lookup ignored');
      return undefined;
    }
    if (url === undefined || url === this.opts.advertise()) {
      this.counts.lookups.missing++;
      return undefined;
    }
    this.counts.lookups.found++;
    return url;
  }

  /** Keeps every held name's key alive; a name found taken by another node is a conflict, logged and given up. */
  private async refresh(): Promise<void> {
    if (!this.up || this.held.size === 0) return;
    const names = [...this.held];
    const value = this.value;
    const results = await Promise.all(names.map((n) => this.redis.sluiceClaim(this.key(n), value, this.opts.ttlMs, this.ownPrefix).catch(() => undefined)));
    names.forEach((n, i) => {
      const r = results[i];
      if (typeof r !== 'string' || !this.held.has(n)) return;
      this.held.delete(n);
      this.counts.conflicts++;
      this.opts.log.warn({ streamKey: n, code: 'ERR_STREAM', reason: `also live on ${urlOf(r)}, which holds the name in redis` }, 'cross-node conflict');
    });
  }

  stats(): RedisDirectoryStats {
    return { ...this.counts, claims: { ...this.counts.claims }, lookups: { ...this.counts.lookups }, up: this.up, downSince: this.downSince, held: this.held.size };
  }

  /** /readyz detail: the node is ready either way (local service does not need Redis). */
  readyDetail(): string {
    return this.up ? 'redis: up' : `redis: down for ${Math.round((Date.now() - (this.downSince ?? Date.now())) / 1000)} s (cross-node lookups off)`;
  }

  /** Drain: the node gives up its names at once, so publishers told to reconnect can claim them elsewhere. */
  async leave(): Promise<void> {
    this.leaving = true;
    clearInterval(this.timer);
    await Promise.all([...this.held].map((n) => this.drop(n)));
  }

  async close(): Promise<void> {
    await this.leave();
    this.redis.disconnect();
    this.sub?.disconnect();
  }
}

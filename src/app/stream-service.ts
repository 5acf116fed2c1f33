/**
 * Publishing and playing, whatever the transport: the one place a session
 * asks for a stream and gives it back. What it is granted is a lease with
 * one idempotent release(), so no transport keeps its own account of what
 * it holds in the worker's stream views (and later, of what access control
 * allowed it).
 */
import type { WorkerHub } from '../cluster/worker-hub.js';
import type { LiveStream } from '../media/live-stream.js';
import type { Subscriber } from '../media/subscriber.js';
import { AccessRefused, type AccessClient, type AccessPolicy, type AccessRequest } from '../access/policy.js';
import { plainIp } from '../access/ip-rules.js';
import { SluiceError } from '../core/errors.js';
import type { EgressForm, LatencyRecorder, PlayerPolicy, PlayerTransport, SubscriberEvents } from '../media/types.js';

/** The right to write a stream; release() unpublishes it (players wait out the grace period). */
export class PublishLease {
  private done = false;

  constructor(
    private readonly hub: WorkerHub,
    readonly stream: LiveStream,
    /** The publishing session's id (the stream's `publisher`). */
    readonly owner: number,
    private readonly hooks?: PublishHooks,
  ) {}

  private readonly whenReleased = new ReleaseCallbacks();

  /** Runs `f` once the lease is released (access control's on_unpublish). */
  onRelease(f: () => void): void {
    this.whenReleased.add(f, this.done);
  }

  get released(): boolean {
    return this.done;
  }

  release(): void {
    if (this.done) return;
    this.done = true;
    this.hooks?.end(this);
    this.hub.unpublish(this.stream, this.owner);
    this.whenReleased.run();
  }
}

/** What runs when a lease is released: access control's end event, a transport's per-address slot. */
class ReleaseCallbacks {
  private fs: (() => void)[] = [];

  /** `now`: the lease is already released, so `f` runs at once. */
  add(f: () => void, now: boolean): void {
    if (now) f();
    else this.fs.push(f);
  }

  run(): void {
    const fs = this.fs;
    this.fs = [];
    for (const f of fs) f();
  }
}

/** A hold on a stream view for one player; release() detaches its subscriber and lets the view go when unused. */
export class PlayLease {
  private done = false;
  private sub: Subscriber | undefined;

  constructor(
    private readonly hub: WorkerHub,
    readonly stream: LiveStream,
  ) {}

  private readonly whenReleased = new ReleaseCallbacks();

  /** Runs `f` once the lease is released (access control's on_stop, a transport's per-address slot). */
  onRelease(f: () => void): void {
    this.whenReleased.add(f, this.done);
  }

  get released(): boolean {
    return this.done;
  }

  /** Attaches the player to the stream (once); its subscriber ends with the lease. */
  subscribe(form: EgressForm, transport: PlayerTransport, events: SubscriberEvents, policy: PlayerPolicy, latency?: LatencyRecorder): Subscriber {
    if (!this.sub) {
      this.sub = this.stream.addSubscriber(form, transport, events, policy, latency);
      this.hub.subscriberJoined(this.stream);
    }
    return this.sub;
  }

  release(): void {
    if (this.done) return;
    this.done = true;
    this.sub?.close();
    this.whenReleased.run();
    // A closed view was dropped by the hub already (stream end): nothing more to give back.
    if (!this.stream.closed) this.hub.subscriberLeft(this.stream);
  }
}

/**
 * What happens around every publish (edge/: forward to the origins, relay
 * push). `begin` runs after the directory granted the name and before the
 * publisher is told; a rejection refuses the publish (BadName when an
 * origin refused the name). `end` runs once, when the publish ends.
 */
export interface PublishHooks {
  begin(lease: PublishLease, query: string): Promise<void>;
  end(lease: PublishLease): void;
}

export class StreamService {
  /** Set on a node with forwarding or relay push configured. */
  hooks: PublishHooks | undefined;

  constructor(
    private readonly hub: WorkerHub,
    private readonly access?: AccessPolicy,
    /** Each refusal, for the log and sluice_refused_total. */
    private readonly refused?: (err: AccessRefused) => void,
  ) {}

  /**
   * Starts publishing app/name for session `owner`; throws ERR_STREAM when it is live anywhere.
   * `client`: a client's publish, checked by access control (an edge's own pulls have none).
   */
  async publish(app: string, name: string, owner: number, source: LiveStream['source'] = 'publisher', query = '', client?: AccessClient): Promise<PublishLease> {
    const asked = client && (await this.check({ ...client, action: 'publish', app, name, query }));
    const hooks = this.hooks;
    const stream = await this.hub.publish(app, name, owner, source, client && plainIp(client.ip)).catch((err: unknown) => {
      // The directory counts live publishes per address node-wide (access.maxPublishesPerIp).
      if (!(err instanceof SluiceError) || err.code !== 'ERR_ACCESS') throw err;
      const refusal = new AccessRefused('publish', 'ip-publishes', 429, err.message);
      this.refused?.(refusal);
      throw refusal;
    });
    const lease = new PublishLease(this.hub, stream, owner, hooks);
    this.tellEnd(lease, asked);
    if (!hooks) return lease;
    try {
      await hooks.begin(lease, query);
    } catch (err) {
      lease.release();
      throw err;
    }
    return lease;
  }

  /**
   * The stream a player attaches to (live, in grace, or awaited); undefined
   * = not found. `query`: the player's URL query (an edge hands the first
   * one to its origin, so origin-side tokens work through edges).
   */
  async play(app: string, name: string, query = '', client?: AccessClient): Promise<PlayLease | undefined> {
    const asked = client && (await this.check({ ...client, action: 'play', app, name, query }));
    const stream = await this.hub.play(app, name, query);
    if (!stream) return undefined;
    const lease = new PlayLease(this.hub, stream);
    this.tellEnd(lease, asked);
    return lease;
  }

  /** RTMP connect: access control's on_connect (streams are asked for later). */
  async connect(app: string, query: string, client: AccessClient): Promise<void> {
    await this.check({ ...client, action: 'connect', app, name: '', query });
  }

  /** The request when access control allowed it (its end is to be told), undefined when there is no policy. */
  private async check(r: AccessRequest): Promise<AccessRequest | undefined> {
    if (!this.access || this.access.open) return undefined;
    try {
      await this.access.check(r);
    } catch (err) {
      if (err instanceof AccessRefused) this.refused?.(err);
      throw err;
    }
    return r;
  }

  /** An asked start's end goes to access control (on_unpublish / on_stop) when its lease is released. */
  private tellEnd(lease: PublishLease | PlayLease, r: AccessRequest | undefined): void {
    const access = this.access;
    if (r && access) lease.onRelease(() => access.ended(r));
  }
}

/**
 * One outbound publish of a local stream: forward (an edge's publisher,
 * to its origins) or relay push (to another server). It is a reader of
 * the local ring like any player — the RTMP egress form's chunks go
 * straight to the upstream socket — so a slow or dead destination costs
 * only itself: the player policy bounds what it may lag, and the stream
 * and its other readers never wait for it.
 *
 * It connects to its targets in order (the next on failure), and after a
 * loss reconnects with backoff for as long as the stream is published; a
 * reconnect starts from the GOP cache, so the destination gets a keyframe
 * first.
 */
import { describeError, SluiceError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../app/log.js';
import type { ServerContext, UpstreamInfo } from '../app/context.js';
import type { PlayLease } from '../app/stream-service.js';
import type { SubscriberEvents } from '../media/types.js';
import { rtmpEgressForm } from '../media/egress/rtmp-form.js';
import { RtmpClient, RtmpStatusError } from '../rtmp/client/rtmp-client.js';
import { SocketTransport } from '../rtmp/socket-transport.js';
import { backoffMs, upstreamPlayName, upstreamUrl } from './origins.js';
import { upstreamTlsOf } from '../app/config-views.js';

/** Our outgoing chunk size to a destination (the RTMP egress form is built for it). */
const PUSH_CHUNK_SIZE = 4096;

export type PushKind = 'forward' | 'relay';
type PushState = 'connecting' | 'publishing' | 'retrying' | 'stopped';

export class PushSession {
  state: PushState = 'connecting';
  target: string | undefined;
  reconnects = 0;
  readonly since = Date.now();
  private bytesDone = 0;
  private client: RtmpClient | undefined;
  private lease: PlayLease | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly log: Logger;

  constructor(
    private readonly ctx: ServerContext,
    readonly kind: PushKind,
    readonly app: string,
    readonly name: string,
    /** Destinations in order of preference (forward: the origins; relay: one). */
    private readonly targets: readonly string[],
    /** The publisher's query string (forward: its tokens go to the origin). */
    private readonly query: string,
  ) {
    this.log = ctx.log.child({ streamKey: this.key, push: kind });
  }

  get key(): string {
    return `${this.app}/${this.name}`;
  }

  info(): UpstreamInfo {
    const bytesOut = this.bytesDone + (this.client?.socket.bytesWritten ?? 0);
    return { streamKey: this.key, kind: this.kind, origin: this.target, state: this.state, bytesIn: 0, bytesOut, reconnects: this.reconnects, since: this.since, worker: this.ctx.workerId };
  }

  /**
   * The first connection: resolves once a target said Publish.Start.
   * Rejects (ERR_STREAM) when one refused the name (BadName) and
   * (ERR_UPSTREAM) when none could be reached.
   */
  async open(): Promise<void> {
    let refused: RtmpStatusError | undefined;
    for (const target of this.targets) {
      try {
        await this.connect(target);
        this.supervise();
        return;
      } catch (err) {
        if (err instanceof RtmpStatusError) refused = err;
        this.log.warn({ target, code: codeOf(err), reason: describeError(err) }, 'push attempt failed');
      }
    }
    if (refused) throw new SluiceError('ERR_STREAM', `${this.key}: refused upstream: ${refused.status.code}: ${refused.status.description}`);
    throw new SluiceError('ERR_UPSTREAM', `${this.key}: no ${this.kind === 'forward' ? 'origin' : 'destination'} could be reached (${this.targets.join(', ')})`);
  }

  /** Starts connecting in the background, for ever (relay push: the publisher never waits for it). */
  startInBackground(): void {
    this.open().catch(() => {
      if (!this.stopped) void this.reconnectLoop();
    });
  }

  stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.wake?.();
    this.detach();
    this.setState('stopped', this.target, reason);
  }

  /** One target: connect, publish, then read the local ring into its socket. */
  private async connect(target: string): Promise<void> {
    const cfg = this.ctx.config.edge;
    const url = upstreamUrl(target, this.app);
    this.setState('connecting', target);
    const client = await RtmpClient.connect(url, { ...upstreamTlsOf(this.ctx.config), timeoutMs: cfg.connectTimeoutMs, chunkSize: PUSH_CHUNK_SIZE });
    try {
      if (this.stopped) throw new SluiceError('ERR_STREAM', 'push stopped');
      await client.publish(upstreamPlayName(this.name, this.query));
      const lease = await this.ctx.streams.play(this.app, this.name);
      if (!lease || this.stopped) {
        lease?.release();
        throw new SluiceError('ERR_STREAM', `${this.key}: the local stream is gone`);
      }
      this.client = client;
      this.lease = lease;
      const events: SubscriberEvents = {
        onPublish: () => undefined,
        onUnpublish: () => undefined,
        onStreamEnd: (reason) => this.stop(`local stream ended: ${reason}`),
        onEvict: (code, reason) => client.destroy(new SluiceError(code, `destination too slow: ${reason}`)),
      };
      const sub = lease.subscribe(rtmpEgressForm(client.streamId, PUSH_CHUNK_SIZE), new SocketTransport(client.socket, false), events, this.ctx.config.player);
      client.socket.on('drain', () => sub.pump());
      this.setState('publishing', target);
    } catch (err) {
      client.destroy();
      throw err;
    }
  }

  /** After the first success: on a loss, reconnect while the stream is published. */
  private supervise(): void {
    const client = this.client!;
    client.once('close', (err) => {
      if (this.client !== client) return;
      this.detach();
      if (this.stopped) return;
      this.log.warn({ target: this.target, code: codeOf(err), reason: err ? describeError(err) : 'destination closed' }, 'push lost');
      void this.reconnectLoop();
    });
  }

  private async reconnectLoop(): Promise<void> {
    for (let round = 1; !this.stopped; round++) {
      for (const target of this.targets) {
        if (this.stopped) return;
        this.reconnects++;
        try {
          await this.connect(target);
          this.supervise();
          return;
        } catch (err) {
          this.log.warn({ target, code: codeOf(err), reason: describeError(err) }, 'push attempt failed');
        }
      }
      this.setState('retrying', this.target, 'every destination failed');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoffMs(round, this.ctx.config.edge.retry));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private detach(): void {
    const client = this.client;
    this.client = undefined;
    if (client) {
      this.bytesDone += client.socket.bytesWritten;
      client.destroy();
    }
    this.lease?.release();
    this.lease = undefined;
  }

  private setState(state: PushState, target: string | undefined, reason?: string): void {
    if (this.state === state && this.target === target) return;
    this.state = state;
    this.target = target;
    this.log.info({ target, state, ...(reason ? { reason } : {}) }, 'push state');
  }
}

function codeOf(err: unknown): ErrorCode {
  return err instanceof SluiceError ? err.code : 'ERR_PROTOCOL';
}

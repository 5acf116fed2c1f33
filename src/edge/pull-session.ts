/**
 * One edge upstream: plays a stream from the origins (first that has it,
 * then the next ones on failure) and publishes it on this worker as an
 * ordinary local stream. Ingest is a publisher's: audio/video bodies are
 * read from the upstream socket straight into the stream's ring.
 *
 * Players never see the switch between origins: the local publish stays
 * up while the next origin is tried, and the first tag from the new one is
 * placed after what players saw (LiveStream.newSource). Only when no origin
 * delivers for edge.playWaitMs does the publish end.
 */
import { describeError, SluiceError } from '../core/errors.js';
import { MessageType, type MessageHeader } from '../protocol/types.js';
import { isSampleAccess } from '../protocol/commands.js';
import type { Logger } from '../app/log.js';
import type { ServerContext, UpstreamInfo } from '../app/context.js';
import type { PublishLease } from '../app/stream-service.js';
import { RtmpClient, type IngestSink } from '../rtmp/client/rtmp-client.js';
import { RtmpPublisher } from '../rtmp/publisher.js';
import { backoffMs, upstreamPlayName, upstreamUrl } from './origins.js';
import { upstreamTlsOf } from '../app/config-views.js';

const isMedia = (t: number): boolean => t === MessageType.Audio || t === MessageType.Video;
const isStreamMessage = (t: number): boolean =>
  isMedia(t) || t === MessageType.DataAmf0 || t === MessageType.DataAmf3 || t === MessageType.Aggregate;

export class PullSession {
  state: UpstreamInfo['state'] = 'connecting';
  origin: string | undefined;
  reconnects = 0;
  readonly since = Date.now();
  private bytesDone = 0;
  private client: RtmpClient | undefined;
  private lease: PublishLease | undefined;
  private publisher: RtmpPublisher | undefined;
  /** Messages that came while the local publish was being granted. */
  private held: { h: MessageHeader; payload: Uint8Array }[] | null = null;
  /** The next tag comes from a new origin: re-base it. */
  private freshSource = false;
  private delivered = false;
  private stopped = false;
  private lastMessageAt = 0;
  /** Set by lookAgain: the next step is a fresh lookup, not the next origin of the old list. */
  private relook = false;
  /** Ends the backoff wait early (stop). */
  private wake: (() => void) | undefined;
  private readonly log: Logger;

  constructor(
    private readonly ctx: ServerContext,
    readonly app: string,
    readonly name: string,
    /** The directory entry this pull is for. */
    readonly entryId: number,
    private readonly query: string,
    /** Publisher id of the local publish (negative: never a session's). */
    private readonly owner: number,
    /** Told once, when the session is over; `published`: it went live here (its end is an unpublish). */
    private readonly ended: (s: PullSession, published: boolean, reason: string) => void,
  ) {
    this.log = ctx.log.child({ streamKey: this.key, upstream: true });
  }

  get key(): string {
    return `${this.app}/${this.name}`;
  }

  info(): UpstreamInfo {
    const bytesIn = this.bytesDone + (this.client?.stats.bytesIn ?? 0);
    return { streamKey: this.key, kind: 'pull', origin: this.origin, state: this.state, bytesIn, bytesOut: 0, reconnects: this.reconnects, since: this.since, worker: this.ctx.workerId };
  }

  start(): void {
    this.run().catch((err) => this.finish(`upstream failed: ${describeError(err)}`));
  }

  /** Closes the upstream; a local publish ends (players get the grace period, as on any unpublish). */
  stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.client?.destroy();
    this.wake?.();
    this.finish(reason);
  }

  /** Where to try, in order: the node Redis names for the stream (cluster.redis), then edge.origins. */
  private async originsNow(): Promise<string[]> {
    const located = await this.ctx.hub.locate(this.key).catch(() => undefined);
    const fixed = this.ctx.config.edge.origins;
    return located ? [located, ...fixed.filter((o) => o !== located)] : fixed;
  }

  /**
   * The stream went live on some node (Redis pub/sub): unless this pull is
   * delivering, drop the wait or the attempt at an origin that does not have
   * it, and ask Redis again.
   */
  lookAgain(): void {
    if (this.stopped || this.delivered) return;
    if (!this.client) {
      this.relook = true;
      this.wake?.();
      return;
    }
    // Waiting at an origin: leave it only for another node (the one that announced is often this very one).
    void this.ctx.hub.locate(this.key).then((url) => {
      if (!url || url === this.origin || this.stopped || this.delivered) return;
      this.relook = true;
      this.client?.destroy();
    }, () => undefined);
  }

  private async run(): Promise<void> {
    const edge = this.ctx.config.edge;
    let deadline = Date.now() + edge.playWaitMs;
    let failures = 0;
    let rounds = 0;
    let origins = await this.originsNow();
    for (let i = 0; !this.stopped; i++) {
      // Each round over the list asks Redis again: the stream may have moved to another node.
      if (i >= origins.length) {
        origins = await this.originsNow();
        i = 0;
      }
      const origin = origins[i];
      this.delivered = false;
      if (origin !== undefined) await this.attempt(origin);
      if (this.stopped) return;
      if (this.relook && !this.delivered) {
        // Straight to the lookup at the top of the loop, without counting a failure.
        this.relook = false;
        i = origins.length - 1;
        continue;
      }
      this.relook = false;
      if (this.delivered) {
        // It was live and is lost: the next origin gets a full wait.
        deadline = Date.now() + edge.playWaitMs;
        failures = 0;
        rounds = 0;
      } else failures++;
      if (Date.now() >= deadline) return this.finish(`no origin delivered ${this.key} within ${edge.playWaitMs} ms (edge.playWaitMs)`);
      if (origin !== undefined) this.reconnects++;
      this.setState('retrying', origins[(i + 1) % Math.max(1, origins.length)], 'trying the next origin');
      // A full round failed (or there is nowhere to try yet, e.g. an origin waiting for Redis to name the node): back off.
      if (failures > 0 && failures % Math.max(1, origins.length) === 0) {
        const wait = Math.min(backoffMs(++rounds, edge.retry), Math.max(0, deadline - Date.now()));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }

  /** One origin: connect, play, relay until the upstream ends. Never throws. */
  private async attempt(origin: string): Promise<void> {
    const edge = this.ctx.config.edge;
    const url = upstreamUrl(origin, this.app);
    this.setState('connecting', origin);
    let client: RtmpClient | undefined;
    let watchdog: NodeJS.Timeout | undefined;
    try {
      client = await RtmpClient.connect(url, { ...upstreamTlsOf(this.ctx.config), timeoutMs: edge.connectTimeoutMs, ingest: this.sink, flashVer: 'LNX 9,0,124,2', bufferLengthMs: 1000 });
      this.client = client;
      if (this.stopped) return;
      this.freshSource = this.publisher !== undefined;
      const closed = new Promise<Error | undefined>((resolve) => client!.once('close', resolve));
      client.on('message', (h, payload) => this.onMessage(client!, h, payload));
      this.lastMessageAt = Date.now();
      await client.play(upstreamPlayName(this.name, this.query));
      watchdog = setInterval(() => {
        if (Date.now() - this.lastMessageAt > edge.stallTimeoutMs) {
          client!.destroy(new SluiceError('ERR_TIMEOUT', `nothing from the origin for ${edge.stallTimeoutMs} ms (edge.stallTimeoutMs)`));
        }
      }, Math.min(1000, edge.stallTimeoutMs));
      const err = await closed;
      if (!this.stopped) this.log.warn({ origin: url, code: err instanceof SluiceError ? err.code : 'ERR_PROTOCOL', reason: err ? describeError(err) : 'origin closed' }, 'upstream lost');
    } catch (err) {
      if (!this.stopped) this.log.warn({ origin: url, code: err instanceof SluiceError ? err.code : 'ERR_PROTOCOL', reason: describeError(err) }, 'upstream attempt failed');
    } finally {
      clearInterval(watchdog);
      if (client) {
        this.bytesDone += client.stats.bytesIn;
        client.destroy();
      }
      if (this.client === client) this.client = undefined;
      // A message cut off with the connection leaves no reservation open in the ring.
      this.publisher?.stream.abandonMedia();
    }
  }

  /** Audio/video bodies of a granted publish go straight into the ring (as a publisher's do). */
  private readonly sink: IngestSink = {
    payloadFor: (h) => (this.publisher && !this.held && !this.freshSource && isMedia(h.type) ? this.publisher.stream.beginMedia(h.length, this.moved) : undefined),
    abandoned: (_h, dest) => this.publisher?.stream.abandonMedia(dest),
  };

  private readonly moved = (from: Uint8Array, to: Uint8Array): void => {
    this.client?.moveDestination(from, to);
  };

  private onMessage(client: RtmpClient, h: MessageHeader, payload: Uint8Array): void {
    if (client !== this.client || this.stopped) return;
    this.lastMessageAt = Date.now();
    // An origin answers every play with |RtmpSampleAccess, live or not: that is no sign of a stream,
    // and the edge sends its own players their own.
    if (!isStreamMessage(h.type) || (h.type === MessageType.DataAmf0 && isSampleAccess(payload))) return;
    if (this.held) {
      this.held.push({ h, payload });
      return;
    }
    if (!this.publisher) {
      this.held = [{ h, payload }];
      client.pauseReading();
      void this.goLive(client);
      return;
    }
    this.relay(h, payload);
  }

  /** The first message from an origin: take the local publish (the directory's players are waiting for it). */
  private async goLive(client: RtmpClient): Promise<void> {
    try {
      this.lease = await this.ctx.streams.publish(this.app, this.name, this.owner, 'pull');
    } catch (err) {
      this.held = null;
      this.log.warn({ code: err instanceof SluiceError ? err.code : 'ERR_INTERNAL', reason: describeError(err) }, 'pulled stream could not be published here');
      return this.stop(`local publish refused: ${describeError(err)}`);
    }
    if (this.stopped) return this.lease.release();
    this.publisher = new RtmpPublisher(this.lease, 0, this.ctx.config.amf);
    this.ctx.latency.pullStart(Date.now() - this.since);
    this.setState('playing', this.origin, 'first message from the origin');
    const held = this.held ?? [];
    this.held = null;
    for (const m of held) this.relay(m.h, m.payload);
    if (this.client === client) client.resumeReading();
  }

  private relay(h: MessageHeader, payload: Uint8Array): void {
    const pub = this.publisher!;
    if (pub.lease.released || pub.stream.closed) return this.stop('the local stream ended');
    if (this.freshSource) {
      // Another origin's timeline: continue after what players saw.
      pub.stream.newSource();
      this.freshSource = false;
      if (this.state !== 'playing') this.setState('playing', this.origin, 'failed over');
    }
    this.delivered = true;
    try {
      if (isMedia(h.type)) pub.onMedia(h, payload);
      else if (h.type === MessageType.Aggregate) pub.onAggregate(h, payload);
      else pub.onData(h, payload);
    } catch (err) {
      // Bad input from one origin ends that upstream connection only; the next origin is tried.
      this.client?.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private setState(state: UpstreamInfo['state'], origin: string | undefined, reason?: string): void {
    if (this.state === state && this.origin === origin) return;
    this.state = state;
    this.origin = origin;
    this.log.info({ origin, state, ...(reason ? { reason } : {}) }, 'upstream state');
  }

  private finish(reason: string): void {
    if (this.state === 'stopped') return;
    this.stopped = true;
    this.client?.destroy();
    this.setState('stopped', this.origin, reason);
    const published = this.lease !== undefined;
    this.lease?.release();
    this.ended(this, published, reason);
  }
}

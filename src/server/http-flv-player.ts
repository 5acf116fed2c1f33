/**
 * HTTP-FLV and WS-FLV players: subscriber transports over uWebSockets.js
 * responses and sockets. Both send the FLV header first (flags from the
 * tracks the stream really has), then tags with per-player timestamps
 * (flv-egress.ts). Backpressure: an HTTP response whose write() reports
 * backpressure counts as full until onWritable; a WebSocket reports its
 * buffered bytes. The subscriber's slow-player policy does the rest.
 */
import type { HttpResponse, WebSocket } from 'uWebSockets.js';
import { SluiceError, type ErrorCode } from '../core/errors.js';
import { flvFileHeader } from '../protocol/flv-tag.js';
import type { LiveStream } from '../media/live-stream.js';
import type { Subscriber } from '../media/subscriber.js';
import type { PlayerTransport, SubscriberEvents } from '../media/types.js';
import type { ServerContext } from './context.js';
import { FlvRebaser, flvForm } from './flv-egress.js';

let nextId = 1;

export abstract class FlvPlayer implements PlayerTransport, SubscriberEvents {
  readonly id = nextId++;
  readonly since = Date.now();
  sub!: Subscriber;
  protected started = false;
  protected done = false;
  private readonly rebaser = new FlvRebaser();
  bytesOut = 0;

  constructor(
    protected readonly ctx: ServerContext,
    readonly stream: LiveStream,
    readonly peer: string,
    readonly protocol: 'http-flv' | 'ws-flv',
  ) {}

  attach(): void {
    this.ctx.counters.flv[this.protocol].connections++;
    this.sub = this.stream.addSubscriber(flvForm, this, this, this.ctx.config.player, this.ctx.latency);
    this.ctx.log.info({ clientId: `${this.protocol}-${this.id}`, peer: this.peer, streamKey: this.stream.key, live: this.stream.live }, 'playing');
  }

  abstract get writableLength(): number;
  protected abstract cork(fn: () => void): void;
  /** Sends one chunk; false when the transport now holds backpressure. */
  protected abstract send(chunk: Buffer): boolean;
  protected abstract onFirstWrite(): void;
  /** Ends the response/socket; `error` for a forced close, `abort` for one without any goodbye (the thread is ending). */
  protected abstract finish(status: FinishStatus, why: string): void;

  write(chunks: Buffer[]): void {
    if (this.done) return;
    this.cork(() => {
      if (!this.started) {
        this.started = true;
        this.onFirstWrite();
        this.emit(flvFileHeader({ audio: this.stream.slab.hasAudio, video: this.stream.hasVideo }));
      }
      for (const c of chunks) this.rebaser.each(c, this.emitChunk);
    });
  }

  private readonly emitChunk = (b: Buffer): void => this.emit(b);

  private emit(b: Buffer): void {
    this.bytesOut += b.length;
    this.send(b);
  }

  onUnpublish(): void {
    // FLV has no status messages: the player keeps waiting through the grace period.
  }

  onPublish(): void {}

  onStreamEnd(reason: string): void {
    if (this.done) return;
    this.finish(reason === 'stream not found' && !this.started ? 'not-found' : 'ok', reason);
    this.detach();
  }

  onEvict(code: ErrorCode, reason: string): void {
    this.ctx.counters.playersEvicted++;
    this.stream.counters.playersEvicted++;
    this.fail(new SluiceError(code, `slow player: ${reason}`));
  }

  fail(err: SluiceError): void {
    if (this.done) return;
    const c = this.ctx.counters;
    c.sessionErrors[err.code] = (c.sessionErrors[err.code] ?? 0) + 1;
    this.ctx.log.warn({ clientId: `${this.protocol}-${this.id}`, peer: this.peer, streamKey: this.stream.key, code: err.code, reason: err.message }, 'session ended by error');
    this.finish('error', err.message);
    this.detach();
  }

  /**
   * Ends this player on request (admin kick): the connection is cut. With
   * `abort` the socket closes at once, without a WebSocket close handshake:
   * a uWS socket still open when a worker thread ends aborts the process.
   */
  close(reason: string, abort = false): void {
    if (this.done) return;
    this.ctx.log.info({ clientId: `${this.protocol}-${this.id}`, peer: this.peer, streamKey: this.stream.key, reason }, 'session closed');
    this.finish(abort ? 'abort' : 'error', reason);
    this.detach();
  }

  /** The peer went away or the player ended: leave the stream once. */
  detach(): void {
    if (this.done) return;
    this.done = true;
    const c = this.ctx.counters;
    c.flv[this.protocol].bytesOut += this.bytesOut;
    c.tagsDropped += this.sub.tagsDropped;
    this.sub.close();
    this.ctx.hub.subscriberLeft(this.stream);
    this.ctx.flvPlayers.delete(this);
  }
}

type FinishStatus = 'ok' | 'not-found' | 'error' | 'abort';

export interface CorsHeaders {
  origin: string;
}

export class HttpFlvPlayer extends FlvPlayer {
  private congested = false;

  constructor(
    ctx: ServerContext,
    stream: LiveStream,
    peer: string,
    private readonly res: HttpResponse,
    private readonly cors: string,
  ) {
    super(ctx, stream, peer, 'http-flv');
  }

  get writableLength(): number {
    // uWS tells only "backpressure or not": treat it as full until onWritable.
    return this.congested ? Number.MAX_SAFE_INTEGER : 0;
  }

  protected cork(fn: () => void): void {
    this.res.cork(fn);
  }

  protected onFirstWrite(): void {
    this.res.writeStatus('200 OK');
    this.res.writeHeader('Content-Type', 'video/x-flv');
    this.res.writeHeader('Cache-Control', 'no-cache');
    this.res.writeHeader('Access-Control-Allow-Origin', this.cors);
  }

  protected send(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    if (!this.congested) {
      this.congested = true;
      this.res.onWritable(() => {
        this.congested = false;
        this.sub.pump();
        return true;
      });
    }
    return false;
  }

  protected finish(status: FinishStatus, why: string): void {
    this.res.cork(() => {
      if (status === 'not-found') {
        this.res.writeStatus('404 Not Found').writeHeader('Access-Control-Allow-Origin', this.cors).end(`${why}\n`);
      } else if (status === 'error' || status === 'abort' || !this.started) {
        if (status === 'ok' && !this.started) this.res.writeStatus('404 Not Found').end(`${why}\n`);
        else this.res.close();
      } else {
        this.res.end();
      }
    });
  }

  /** onAborted: the client went away. */
  aborted(): void {
    this.done || this.detach();
  }
}

export class WsFlvPlayer extends FlvPlayer {
  closed = false;

  constructor(
    ctx: ServerContext,
    stream: LiveStream,
    peer: string,
    private readonly ws: WebSocket<unknown>,
  ) {
    super(ctx, stream, peer, 'ws-flv');
  }

  get writableLength(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }

  protected cork(fn: () => void): void {
    if (!this.closed) this.ws.cork(fn);
  }

  protected onFirstWrite(): void {}

  protected send(chunk: Buffer): boolean {
    return !this.closed && this.ws.send(chunk, true) === 1;
  }

  protected finish(status: FinishStatus, why: string): void {
    if (this.closed) return;
    this.closed = true;
    if (status === 'abort') return this.ws.close();
    // 4404: application-defined close code for "stream not found".
    if (status === 'error') this.ws.end(1008, why.slice(0, 120));
    else this.ws.end(status === 'not-found' ? 4404 : 1000, why.slice(0, 120));
  }

  /** The socket closed (either side). */
  /**
   * The socket closed (either side). A close code other than normal/going
   * away/none means the client broke the protocol (e.g. 1009: a message over
   * the frame limit): an error of this session, logged and counted.
   */
  socketClosed(code = 1000): void {
    this.closed = true;
    if (code !== 1000 && code !== 1001 && code !== 1005 && !this.done) {
      this.fail(new SluiceError('ERR_PROTOCOL', `websocket closed with code ${code}`));
      return;
    }
    this.detach();
  }
}

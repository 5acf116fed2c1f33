/**
 * What HTTP-FLV and WS-FLV players share: a subscriber transport that
 * sends the FLV header first (flags from the tracks the stream really
 * has), then tags with per-player timestamps (media/egress/flv-form.ts).
 * The transports (http-flv-player.ts, ws-flv-player.ts) say how bytes
 * leave and how the connection ends. Logs carry the admin API's client id
 * and, once, "session closed" with the fields of an RTMP session's.
 */
import { SluiceError, type ErrorCode } from '../core/errors.js';
import { flvFileHeader } from '../protocol/flv-tag.js';
import type { LiveStream } from '../media/live-stream.js';
import type { Subscriber } from '../media/subscriber.js';
import type { PlayerTransport, SubscriberEvents } from '../media/types.js';
import { FlvRebaser, flvForm } from '../media/egress/flv-form.js';
import type { FlvPlayerHandle, FlvProtocol, ServerContext } from '../app/context.js';
import type { PlayLease } from '../app/stream-service.js';
import { clientId } from '../app/client-id.js';
import { HeldWrites } from './held-writes.js';
import type { Logger } from '../app/log.js';

let nextId = 1;

/** uWS's per-loop cork buffer (LoopData::CORK_BUFFER_SIZE): a write or message larger than what is left of it takes uWS's slow paths. */
export const UWS_CORK_BYTES = 16 * 1024;
/** What one cork call may carry: the cork buffer less a margin. */
const CORK_GROUP_BYTES = UWS_CORK_BYTES - 256;
/** What a player's first write adds before its tags: the FLV file header and, over HTTP, the response head. */
const START_BYTES = 256;
/** A tag's bytes besides its shared tail: the 11-byte header and, over HTTP, two chunk framings (WS: two frame headers). */
const PIECE_OVERHEAD = 32;

/** Who an HTTP-FLV / WS-FLV player is, known before it attaches (access control's hooks name it). */
export interface FlvClient {
  id: number;
  peer: string;
}

export function newFlvClient(peer: string): FlvClient {
  return { id: nextId++, peer };
}

/** How a player's connection ends: `error` for a forced close, `abort` without any goodbye (the thread is ending). */
export type FinishStatus = 'ok' | 'not-found' | 'error' | 'abort';

export abstract class FlvPlayer implements PlayerTransport, SubscriberEvents, FlvPlayerHandle {
  readonly id: number;
  readonly peer: string;
  readonly since = Date.now();
  readonly stream: LiveStream;
  sub!: Subscriber;
  protected started = false;
  protected done = false;
  private readonly rebaser = new FlvRebaser();
  private readonly log: Logger;
  bytesOut = 0;

  constructor(
    protected readonly ctx: ServerContext,
    private readonly lease: PlayLease,
    client: FlvClient,
    readonly protocol: FlvProtocol,
  ) {
    this.id = client.id;
    this.peer = client.peer;
    const peer = client.peer;
    this.stream = lease.stream;
    this.log = ctx.log.child({ clientId: clientId(ctx.workerId, protocol, this.id), peer });
  }

  get streamKey(): string {
    return this.stream.key;
  }

  attach(): void {
    this.ctx.counters.flv[this.protocol].connections++;
    this.sub = this.lease.subscribe(flvForm, this, this, this.ctx.config.player, this.ctx.latency);
    this.log.info({ streamKey: this.stream.key, live: this.stream.live }, 'playing');
  }

  abstract get writableLength(): number;
  protected abstract cork(fn: () => void): void;
  /** Sends one chunk; false when the transport now holds backpressure. */
  protected abstract send(chunk: Buffer): boolean;
  protected abstract onFirstWrite(): void;
  protected abstract finish(status: FinishStatus, why: string): void;

  /**
   * The batch goes out in cork groups that fit uWS's 16 KB cork buffer:
   * one send(2) per group. A write that overflows the buffer uncorks the
   * socket for the rest of the cork call, and then every piece and its
   * chunk framing is a send(2) of its own: a catching-up player's 1 MiB
   * batch went out at 8 sends per tag, and 1000 HTTP-FLV players collapsed
   * (docs/performance.md, "Cork groups").
   */
  write(chunks: Buffer[]): void {
    if (this.done) return;
    let at = 0;
    let ran = false;
    const group = (): void => {
      ran = true;
      let bytes = 0;
      if (!this.started) {
        this.started = true;
        this.onFirstWrite();
        this.emit(flvFileHeader({ audio: this.stream.slab.hasAudio, video: this.stream.hasVideo }));
        bytes = START_BYTES;
      }
      while (at < chunks.length) {
        const c = chunks[at]!;
        const cost = c.length + PIECE_OVERHEAD;
        if (bytes > 0 && bytes + cost > CORK_GROUP_BYTES) break;
        this.rebaser.each(c, this.emitChunk);
        bytes += cost;
        at++;
      }
      if (at === chunks.length) this.pieces.end();
    };
    // A transport that no longer corks (a closed WebSocket) does not run the group: stop there.
    do {
      ran = false;
      this.cork(group);
    } while (ran && at < chunks.length && !this.done);
  }

  private readonly pieces = new HeldWrites((b) => this.send(b));
  private readonly emitChunk = (b: Buffer): void => this.emit(b);

  private emit(b: Buffer): void {
    this.bytesOut += b.length;
    this.pieces.piece(b);
  }

  onUnpublish(): void {
    // FLV has no status messages: the player keeps waiting through the grace period.
  }

  onPublish(): void {}

  onStreamEnd(reason: string): void {
    this.end(reason === 'stream not found' && !this.started ? 'not-found' : 'ok', reason);
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
    this.log.warn({ streamKey: this.stream.key, code: err.code, reason: err.message }, 'session ended by error');
    this.end('error', err.message);
  }

  /**
   * Ends this player on request (admin kick): the connection is cut. With
   * `abort` the socket closes at once, without a WebSocket close handshake:
   * a uWS socket still open when a worker thread ends aborts the process.
   */
  close(reason: string, abort = false): void {
    this.end(abort ? 'abort' : 'error', reason);
  }

  /** The peer went away: leave the stream (once). */
  detach(reason = 'peer closed'): void {
    this.end(undefined, reason);
  }

  /**
   * Ends the player once: the transport's goodbye (none when the peer left),
   * then the stream is left and the close logged. `done` is set first: a
   * transport may report its own close from inside finish() (uWS calls a
   * WebSocket's close handler within end()), which must find it ended.
   */
  private end(status: FinishStatus | undefined, reason: string): void {
    if (this.done) return;
    this.done = true;
    if (status) this.finish(status, reason);
    const c = this.ctx.counters;
    c.flv[this.protocol].bytesOut += this.bytesOut;
    c.tagsDropped += this.sub.tagsDropped;
    this.lease.release();
    this.ctx.flvPlayers.delete(this);
    this.log.info({ streamKey: this.stream.key, reason, bytesOut: this.bytesOut, durationMs: Date.now() - this.since }, 'session closed');
  }
}

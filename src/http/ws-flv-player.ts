/**
 * A WS-FLV player (flv.js / mpegts.js): FLV bytes in binary WebSocket
 * frames on uWebSockets.js. The socket reports its buffered bytes, which
 * the subscriber's slow-player policy reads.
 */
import type { WebSocket } from 'uWebSockets.js';
import { SluiceError } from '../core/errors.js';
import type { ServerContext } from '../app/context.js';
import type { PlayLease } from '../app/stream-service.js';
import { FlvPlayer, UWS_CORK_BYTES, type FlvClient, type FinishStatus } from './flv-player.js';

/** Application-defined close code (4000-4999) for "stream not found". */
export const WS_CLOSE_NOT_FOUND = 4404;

/**
 * The largest WebSocket message sluice sends. uWS frames a message that
 * does not fit its 16 KB per-loop cork buffer in the socket's own backlog
 * string, and that string keeps its capacity for the socket's life: one
 * keyframe sent whole left ~100 KB on every WS-FLV player. Messages that
 * fit the cork buffer leave at most it and one message. FLV is a byte
 * stream to flv.js / mpegts.js: where messages split does not matter.
 */
export const WS_MAX_MESSAGE = UWS_CORK_BYTES - 64;

export class WsFlvPlayer extends FlvPlayer {
  closed = false;

  constructor(
    ctx: ServerContext,
    lease: PlayLease,
    client: FlvClient,
    private readonly ws: WebSocket<unknown>,
  ) {
    super(ctx, lease, client, 'ws-flv');
  }

  get writableLength(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }

  protected cork(fn: () => void): void {
    if (!this.closed) this.ws.cork(fn);
  }

  protected onFirstWrite(): void {}

  protected send(chunk: Buffer): boolean {
    if (this.closed) return false;
    let ok = true;
    for (let at = 0; at < chunk.length; at += WS_MAX_MESSAGE) {
      const piece = at === 0 && chunk.length <= WS_MAX_MESSAGE ? chunk : chunk.subarray(at, at + WS_MAX_MESSAGE);
      const r = this.ws.send(piece, true);
      // 2: uWS dropped it (over maxBackpressure). A gap mid-tag would desync the player silently: end it instead.
      if (r === 2) {
        this.fail(new SluiceError('ERR_SLOW_CONSUMER', 'websocket backpressure limit reached: a message was dropped'));
        return false;
      }
      if (r !== 1) ok = false;
    }
    return ok;
  }

  protected finish(status: FinishStatus, why: string): void {
    if (this.closed) return;
    this.closed = true;
    if (status === 'abort') return this.ws.close();
    // 1008: policy violation (RFC 6455 7.4.1); the reason is bounded to fit a control frame.
    if (status === 'error') this.ws.end(1008, why.slice(0, 120));
    else this.ws.end(status === 'not-found' ? WS_CLOSE_NOT_FOUND : 1000, why.slice(0, 120));
  }

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

/**
 * An HTTP-FLV player: a chunked `video/x-flv` response on uWebSockets.js.
 * uWS tells only "backpressure or not": a response whose write() reports
 * backpressure counts as full until onWritable, and the subscriber's
 * slow-player policy does the rest.
 */
import type { HttpResponse } from 'uWebSockets.js';
import type { ServerContext } from '../app/context.js';
import type { PlayLease } from '../app/stream-service.js';
import { FlvPlayer, type FlvClient, type FinishStatus } from './flv-player.js';

export class HttpFlvPlayer extends FlvPlayer {
  private congested = false;

  constructor(
    ctx: ServerContext,
    lease: PlayLease,
    client: FlvClient,
    private readonly res: HttpResponse,
    private readonly cors: string,
  ) {
    super(ctx, lease, client, 'http-flv');
  }

  get writableLength(): number {
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

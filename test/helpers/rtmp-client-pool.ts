/**
 * The RtmpClients and synthetic publishers a test opened, so that however
 * the test ends, `closeAll()` stops every publisher's timer and destroys
 * every connection.
 */
import { RtmpClient, type RtmpClientOptions } from '../../src/rtmp/client/rtmp-client.js';
import { SyntheticPublisher, type PublisherOptions } from './synthetic-publisher.js';

/** rtmp://127.0.0.1:`port`/`app`. */
export const rtmpUrl = (port: number, app = 'live'): string => `rtmp://127.0.0.1:${port}/${app}`;

export class RtmpClientPool {
  private readonly clients: RtmpClient[] = [];
  private readonly publishers: SyntheticPublisher[] = [];

  /** Connects to `appUrl` (rtmp://host:port/app) with a 3 s timeout unless `opts` says otherwise. */
  async connect(appUrl: string, opts: RtmpClientOptions = {}): Promise<RtmpClient> {
    const c = await RtmpClient.connect(appUrl, { timeoutMs: 3000, ...opts });
    this.clients.push(c);
    return c;
  }

  /** A synthetic publisher on an already publishing client. */
  source(c: RtmpClient, opts: PublisherOptions = {}): SyntheticPublisher {
    const p = new SyntheticPublisher(c, opts);
    this.publishers.push(p);
    return p;
  }

  /** Connects, publishes `name` and puts a synthetic publisher on it (no media sent yet). */
  async publisher(appUrl: string, name: string, opts: PublisherOptions = {}): Promise<SyntheticPublisher> {
    const c = await this.connect(appUrl);
    await c.publish(name);
    return this.source(c, opts);
  }

  closeAll(): void {
    for (const p of this.publishers) p.stop();
    for (const c of this.clients) c.destroy();
  }
}

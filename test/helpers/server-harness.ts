/**
 * One server per case for RTMP behaviour tests: `withServer(cfg, fn)`
 * starts it, hands `fn` a harness that opens clients and synthetic
 * publishers, and closes all of it however `fn` ends.
 */
import type { RunningServer } from '../../src/process/single.js';
import type { ConfigInput } from '../../src/app/config.js';
import type { RtmpSession } from '../../src/rtmp/session.js';
import type { RtmpClient, RtmpClientOptions } from '../../src/rtmp/client/rtmp-client.js';
import { RtmpClientPool, rtmpUrl } from './rtmp-client-pool.js';
import type { PublisherOptions, SyntheticPublisher } from './synthetic-publisher.js';
import { Recorder } from './rtmp-recorder.js';
import { closeServer, startTestServer } from './servers.js';

export interface Harness {
  srv: RunningServer;
  /** rtmp://127.0.0.1:port/live */
  url: string;
  client(opts?: RtmpClientOptions): Promise<RtmpClient>;
  /** A synthetic source on a publishing client, stopped when the case ends (pass or fail). */
  source(c: RtmpClient, opts?: PublisherOptions): SyntheticPublisher;
  /** A client publishing `name` with a synthetic source that has sent its headers (no frames yet). */
  publisher(name: string, opts?: PublisherOptions): Promise<{ pub: RtmpClient; src: SyntheticPublisher }>;
  /** A client playing `name`, recorded from before the play. */
  player(name: string): Promise<{ player: RtmpClient; rec: Recorder }>;
  /** The server-side session of a client (matched by its local port). */
  sessionOf(c: RtmpClient): RtmpSession | undefined;
}

export async function withServer(cfg: ConfigInput, fn: (h: Harness) => Promise<void>): Promise<void> {
  const srv = await startTestServer(cfg);
  const pool = new RtmpClientPool();
  const url = rtmpUrl(srv.rtmpPort);
  const h: Harness = {
    srv,
    url,
    client: (opts = {}) => pool.connect(url, opts),
    source: (c, opts = {}) => pool.source(c, opts),
    async publisher(name, opts = {}) {
      const pub = await h.client();
      await pub.publish(name);
      const src = h.source(pub, opts);
      src.headers();
      return { pub, src };
    },
    async player(name) {
      const player = await h.client();
      const rec = new Recorder(player);
      await player.play(name);
      return { player, rec };
    },
    sessionOf(c) {
      const port = c.socket.localPort;
      for (const s of srv.ctx.sessions.values()) {
        const rs = s as unknown as RtmpSession;
        if (rs.socket.remotePort === port) return rs;
      }
      return undefined;
    },
  };
  try {
    await fn(h);
  } finally {
    pool.closeAll();
    await closeServer(srv);
  }
}

/** The stream live/`name` on `srv`, if it exists. */
export const streamOf = (srv: RunningServer, name: string) => srv.ctx.hub.get('live', name);

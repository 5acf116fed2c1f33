/**
 * HTTP-FLV and WebSocket-FLV playback on uWebSockets.js, one app per
 * worker, all on the same port (uWS listens with SO_REUSEPORT):
 *   GET/HEAD /{app}/{name}.flv         HTTP-FLV (video/x-flv, streamed)
 *   the same path as a WebSocket        WS-FLV (binary frames, flv.js/mpegts.js)
 *   OPTIONS *                          CORS preflight
 *   /{app}/{name}.m3u8 and its media    HLS / LL-HLS (hls-route.ts)
 */
import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, us_listen_socket } from 'uWebSockets.js';
import { describeError, SluiceError } from '../core/errors.js';
import { cleanName, MAX_QUERY } from '../app/stream-name.js';
import type { FlvProtocol, ServerContext } from '../app/context.js';
import type { PlayLease } from '../app/stream-service.js';
import { AccessRefused, type AccessClient } from '../access/policy.js';
import { peerOf, STATUS_TEXT } from './http-reply.js';
import { clientId } from '../app/client-id.js';
import { HttpFlvPlayer } from './http-flv-player.js';
import { newFlvClient, type FlvClient } from './flv-player.js';
import { WsFlvPlayer } from './ws-flv-player.js';
import type { TlsFiles } from '../app/config-views.js';
import { loadTls } from '../app/tls-files.js';
import { HlsService } from './hls-service.js';
import { hlsRoutes, type HlsRoutes } from './hls-route.js';

export interface HttpListener {
  readonly port: number;
  /** HTTPS-FLV / WSS-FLV, when on. */
  readonly tlsPort?: number;
  /** Closes the listen socket: no new connections. */
  stop(): void;
  /**
   * Closes every socket of the app, idle keep-alive connections included.
   * A worker thread that ends with any uWS socket open aborts the whole
   * process, so this runs before a worker exits, crash or drain.
   */
  closeAll(): void;
}

/** "/live/cam1.flv" -> { app: "live", name: "cam1" }; undefined if not a playback path. */
export function parseFlvPath(url: string): { app: string; name: string } | undefined {
  const m = /^\/([^/]+)\/(.+)\.flv$/.exec(url);
  if (!m) return undefined;
  try {
    return { app: cleanName(decodeURIComponent(m[1]!), 'app'), name: cleanName(decodeURIComponent(m[2]!), 'name') };
  } catch {
    return undefined;
  }
}


interface WsData {
  lease: PlayLease;
  client: FlvClient;
  player?: WsFlvPlayer;
}

/** HTTP-FLV/WS-FLV on host:port and, with `tls`, HTTPS-FLV/WSS-FLV beside it: the same routes, two apps. */
export async function listenHttp(ctx: ServerContext, host: string, port: number, tls?: { host: string; port: number; files: TlsFiles }): Promise<HttpListener> {
  // Certificate problems fail the start before anything listens.
  if (tls) loadTls(tls.files);
  // One HLS state per worker, shared by the plain and TLS apps.
  const hls = ctx.config.hls.enabled ? new HlsService(ctx) : undefined;
  ctx.hls = hls;
  const closeHls = (): void => {
    hls?.close();
    ctx.hls = undefined;
  };
  const plain = await serve(ctx, host, port, hls).catch((err: unknown) => {
    closeHls();
    throw err;
  });
  if (!tls) return { ...plain, closeAll: () => (plain.closeAll(), closeHls()) };
  let secure: HttpListener;
  try {
    secure = await serve(ctx, tls.host, tls.port, hls, tls.files);
  } catch (err) {
    plain.closeAll();
    closeHls();
    throw err;
  }
  return {
    port: plain.port,
    tlsPort: secure.port,
    stop: () => (plain.stop(), secure.stop()),
    closeAll: () => (plain.closeAll(), secure.closeAll(), closeHls()),
  };
}

function serve(ctx: ServerContext, host: string, port: number, hlsService: HlsService | undefined, tls?: TlsFiles): Promise<HttpListener> {
  const cfg = ctx.config;
  const cors = cfg.http.corsOrigin;
  const hw = cfg.player.writeHighWaterBytes;
  const app = tls ? uWS.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile }) : uWS.App();
  const secure = tls ? 's' : '';
  const hls: HlsRoutes | undefined = hlsService && hlsRoutes(ctx, hlsService, cors, tls !== undefined);

  const notFound = (res: HttpResponse, why: string, head = false): void => {
    res.cork(() => {
      res.writeStatus('404 Not Found').writeHeader('Access-Control-Allow-Origin', cors).writeHeader('Content-Type', 'text/plain');
      if (head) res.endWithoutBody();
      else res.end(`${why}\n`);
    });
  };

  /** Resolves the stream through the directory; `aborted()` tells whether the response went away meanwhile. */
  /** Reads what it needs of `req` at once (uWS requests live only for the handler's synchronous part). */
  const lookup = (res: HttpResponse, req: HttpRequest, transport: FlvProtocol, then: (lease: PlayLease | undefined, aborted: () => boolean, client: FlvClient) => void): void => {
    const url = req.getUrl();
    const query = req.getQuery() ?? '';
    const host = req.getHeader('host');
    const pageUrl = req.getHeader('referer');
    const path = parseFlvPath(url);
    if (!path) return notFound(res, 'not a stream path (expected /{app}/{name}.flv)');
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
      (res as { player?: HttpFlvPlayer }).player?.aborted();
    });
    const flvClient = newFlvClient(peerOf(res));
    /** A limit refuses before anything is looked up: logged, counted, answered `status`. */
    const limited = (status: 429 | 503, reason: string, limit: string, body: string): void => {
      ctx.countRefused('play', reason);
      ctx.log.warn({ peer: flvClient.peer, protocol: transport, code: 'ERR_LIMIT', reason: `${limit} reached`, url }, `${transport} play refused`);
      res.cork(() => res.writeStatus(STATUS_TEXT[status]).writeHeader('Access-Control-Allow-Origin', cors).end(`${body}\n`));
    };
    if (ctx.flvPlayers.size >= cfg.http.maxPlayers) return limited(503, 'max-players', `http.maxPlayers ${cfg.http.maxPlayers}`, 'too many players on this server');
    if (!ctx.perIp.take(flvClient.peer)) {
      return limited(429, 'ip-connections', `access.maxConnectionsPerIp ${cfg.access.maxConnectionsPerIp}`, 'too many connections from this address');
    }
    // The slot goes with the lease (released exactly once, whatever ends the player), or at once without one.
    const give = () => ctx.perIp.give(flvClient.peer);
    const scheme = (transport === 'ws-flv' ? 'ws' : 'http') + secure;
    const client: AccessClient = { ip: flvClient.peer, transport, clientId: clientId(ctx.workerId, transport, flvClient.id), tcUrl: `${scheme}://${host}${url}`, pageUrl };
    ctx.streams.play(path.app, path.name, query.slice(0, MAX_QUERY), client).then(
      (lease) => {
        if (lease) lease.onRelease(give);
        else give();
        then(lease, () => aborted, flvClient);
      },
      (err) => {
        give();
        const code = err instanceof SluiceError ? err.code : 'ERR_INTERNAL';
        const refused = err instanceof AccessRefused;
        ctx.log.warn({ code, reason: describeError(err), url, peer: client.ip, protocol: transport }, refused ? `${transport} play refused` : 'http-flv lookup failed');
        // No room (too many streams or awaited names) is the server being busy, not broken: the client may retry.
        const status = refused ? STATUS_TEXT[err.status] : code === 'ERR_LIMIT' ? '503 Service Unavailable' : '500 Internal Server Error';
        if (!aborted) res.cork(() => res.writeStatus(status).writeHeader('Access-Control-Allow-Origin', cors).end(refused ? `${err.message}\n` : undefined));
      },
    );
  };

  app.ws<WsData>('/*', {
    compression: uWS.DISABLED,
    maxPayloadLength: 16 * 1024,
    // sluice keeps a player under the high-water mark itself; uWS must never drop a frame of FLV.
    maxBackpressure: hw * 4 + 64 * 1024 * 1024,
    closeOnBackpressureLimit: 0,
    idleTimeout: cfg.http.wsIdleTimeoutS,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      lookup(res, req, 'ws-flv', (lease, aborted, client) => {
        if (aborted()) return lease?.release();
        if (!lease) return notFound(res, 'stream not found');
        res.cork(() => res.upgrade<WsData>({ lease, client }, key, protocol, extensions, context));
      });
    },
    open: (ws) => {
      const d = ws.getUserData();
      const p = new WsFlvPlayer(ctx, d.lease, d.client, ws as never);
      d.player = p;
      ctx.flvPlayers.add(p);
      p.attach();
    },
    drain: (ws) => ws.getUserData().player?.sub.pump(),
    close: (ws, code) => ws.getUserData().player?.socketClosed(code),
  });

  app.options('/*', (res, req) => {
    const asked = req.getHeader('access-control-request-headers');
    res.cork(() => {
      res.writeStatus('204 No Content');
      res.writeHeader('Access-Control-Allow-Origin', cors);
      res.writeHeader('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
      res.writeHeader('Access-Control-Allow-Headers', asked || '*');
      res.writeHeader('Access-Control-Max-Age', '86400');
      res.endWithoutBody();
    });
  });

  app.head('/*', (res, req) => {
    if (hls?.handles(req.getUrl())) return hls.serve(res, req, true);
    lookup(res, req, 'http-flv', (lease, aborted) => {
      if (aborted()) return lease?.release();
      if (!lease?.stream.live) {
        notFound(res, 'stream not found', true);
      } else {
        res.cork(() => {
          res.writeStatus('200 OK').writeHeader('Content-Type', 'video/x-flv').writeHeader('Access-Control-Allow-Origin', cors);
          res.endWithoutBody();
        });
      }
      lease?.release();
    });
  });

  app.get('/*', (res, req: HttpRequest) => {
    if (hls?.handles(req.getUrl())) return hls.serve(res, req, false);
    lookup(res, req, 'http-flv', (lease, aborted, client) => {
      if (aborted()) return lease?.release();
      if (!lease) return notFound(res, 'stream not found');
      // Headers go out with the first bytes, so a stream that is awaited and never comes can still 404.
      const p = new HttpFlvPlayer(ctx, lease, client, res, cors);
      (res as { player?: HttpFlvPlayer }).player = p;
      ctx.flvPlayers.add(p);
      p.attach();
    });
  });

  return new Promise((resolve, reject) => {
    app.listen(host, port, (token: us_listen_socket | false) => {
      if (!token) return reject(new SluiceError('ERR_CONFIG', `http: cannot listen on ${host}:${port}`));
      const bound = uWS.us_socket_local_port(token as never);
      ctx.log.info({ port: bound }, tls ? 'https-flv listening' : 'http-flv listening');
      let open = true;
      const stop = (): void => {
        if (!open) return;
        open = false;
        uWS.us_listen_socket_close(token);
      };
      resolve({
        port: bound,
        stop,
        closeAll() {
          stop();
          // Present in the native build though missing from its typings.
          (app as unknown as { close(): void }).close();
        },
      });
    });
  });
}

/** Ends every HTTP/WS player (shutdown). */
export function closeFlvPlayers(ctx: ServerContext, reason: string): void {
  for (const p of [...ctx.flvPlayers]) p.onStreamEnd(reason);
}

/**
 * The primary's control plane (node:http on admin.port):
 *
 *   GET    /healthz                      the process is alive (text)
 *   GET    /readyz                       every worker serving; 503 while draining (text)
 *   GET    /metrics                      Prometheus text exposition (metrics.ts)
 *   GET    /api/v1/streams               every stream the directory knows
 *   GET    /api/v1/streams/{app}/{name}  one stream
 *   DELETE /api/v1/streams/{app}/{name}  drop its publisher
 *   GET    /api/v1/upstreams             edge upstreams: stream, origin, state, bytes, reconnects
 *   GET    /api/v1/clients?limit=&offset= connections, paged
 *   GET    /api/v1/clients/{id}          one connection
 *   DELETE /api/v1/clients/{id}          close it
 *   GET    /api/v1/latency               latency percentiles over the recent window
 *   GET    /, /console/…, /api/v1/console the web console (console-route.ts)
 *
 * HEAD is answered wherever GET is. Errors are JSON:
 * `{ "error": { "code": "...", "message": "..." } }`.
 */
import http from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { describeError } from '../core/errors.js';
import { AdminApi, ApiError } from './admin-api.js';
import { consoleBearer, consoleRoute, type ConsoleOptions } from './console-route.js';
import type { ClusterMetrics } from './metrics.js';

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface AdminOptions {
  host: string;
  port: number;
  /** Bearer token for every path but `openPaths`; unset = no check. */
  token?: string;
  openPaths?: string[];
  ready: () => boolean;
  /** Lines after /readyz's verdict that do not change it (e.g. `redis: down`: local service goes on). */
  readyDetail?: () => string[];
  /** The JSON API; without it only the health endpoints and (if given) /metrics answer. */
  api?: AdminApi;
  metrics?: ClusterMetrics;
  /** The web console (served with the API): where its players find the playback port. */
  console?: ConsoleOptions;
  log?: { error(o: object, m: string): void; warn(o: object, m: string): void };
}

interface Reply {
  status: number;
  /** Serialized as JSON unless it is a string or a Buffer. */
  body?: unknown;
  /** Content type of a string or Buffer body. */
  type?: string;
  headers?: Record<string, string>;
  /** Methods for a 405's Allow header. */
  allow?: string;
  /** A 401: send WWW-Authenticate. */
  challenge?: boolean;
}

/** Constant-time: both sides are hashed first, so neither length nor content leaks through timing. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1] ?? '';
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}

type Method = 'GET' | 'DELETE';
type Handler = (query: URLSearchParams) => Reply | Promise<Reply>;

const text = (status: number, body: string): Reply => ({ status, body, type: 'text/plain; charset=utf-8' });
const json = (body: unknown): Reply => ({ status: 200, body });
const noContent: Reply = { status: 204 };

function errorReply(status: number, code: string, message: string): Reply {
  return { status, body: { error: { code, message } } };
}

/** Path segments after `prefix`, percent-decoded; undefined if the path is not under it. */
function rest(path: string, prefix: string): string | undefined {
  if (!path.startsWith(prefix) || path.length === prefix.length) return undefined;
  try {
    return path.slice(prefix.length).split('/').map(decodeURIComponent).join('/');
  } catch {
    return undefined;
  }
}

/** The handlers for a path, by method; undefined = no such resource. */
function route(path: string, o: AdminOptions): Partial<Record<Method, Handler>> | undefined {
  if (path === '/healthz') return { GET: () => text(200, 'ok\n') };
  if (path === '/readyz') {
    return {
      GET: () => {
        const detail = (o.readyDetail?.() ?? []).map((l) => `${l}\n`).join('');
        return o.ready() ? text(200, `ready\n${detail}`) : text(503, `not ready\n${detail}`);
      },
    };
  }
  const { metrics, api } = o;
  if (path === '/metrics' && metrics) return { GET: async () => ({ status: 200, body: await metrics.scrape(), type: metrics.contentType }) };
  if (!api) return undefined;
  const page = consoleRoute(path, o.console ?? {});
  if (page) return page;
  if (path === '/api/v1/latency') return { GET: async () => json(await api.latency()) };
  if (path === '/api/v1/streams') return { GET: async () => json(await api.streams()) };
  if (path === '/api/v1/upstreams') return { GET: async () => json(await api.upstreams()) };
  if (path === '/api/v1/clients') return { GET: async (q) => json(await api.clients(q)) };
  const key = rest(path, '/api/v1/streams/');
  if (key !== undefined && key.includes('/')) {
    return {
      GET: async () => json(await api.stream(key)),
      DELETE: async () => (await api.dropPublisher(key), noContent),
    };
  }
  const id = rest(path, '/api/v1/clients/');
  if (id !== undefined && !id.includes('/')) {
    return {
      GET: async () => json(await api.client(id)),
      DELETE: async () => (await api.kick(id), noContent),
    };
  }
  return undefined;
}

async function handle(req: http.IncomingMessage, o: AdminOptions): Promise<Reply> {
  const url = new URL(req.url ?? '/', 'http://admin');
  if (o.token !== undefined && !o.openPaths?.includes(url.pathname) && !bearerMatches(req.headers.authorization ?? consoleBearer(url, req.method), o.token)) {
    return { ...errorReply(401, 'UNAUTHORIZED', 'a bearer token is required (Authorization: Bearer <admin.token>)'), challenge: true };
  }
  const handlers = route(url.pathname, o);
  if (!handlers) return errorReply(404, 'NOT_FOUND', `no resource ${url.pathname}`);
  const method = req.method === 'HEAD' ? 'GET' : (req.method as Method);
  const handler = handlers[method];
  if (!handler) {
    const allow = Object.keys(handlers).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
    return { ...errorReply(405, 'METHOD_NOT_ALLOWED', `${req.method} ${url.pathname}: allowed ${allow.join(', ')}`), allow: allow.join(', ') };
  }
  try {
    return await handler(url.searchParams);
  } catch (err) {
    if (err instanceof ApiError) return errorReply(err.status, err.code, err.message);
    o.log?.error({ code: 'ERR_INTERNAL', reason: describeError(err), path: url.pathname }, 'admin request failed');
    return errorReply(500, 'INTERNAL', 'internal error (logged)');
  }
}

function send(res: http.ServerResponse, r: Reply): void {
  const headers: http.OutgoingHttpHeaders = { ...r.headers };
  if (r.allow) headers.allow = r.allow;
  if (r.challenge) headers['www-authenticate'] = 'Bearer realm="sluice"';
  if (r.body === undefined) return void res.writeHead(r.status, headers).end();
  const raw = typeof r.body === 'string' || Buffer.isBuffer(r.body);
  headers['content-type'] = raw ? r.type : 'application/json; charset=utf-8';
  res.writeHead(r.status, headers).end(raw ? (r.body as string | Buffer) : `${JSON.stringify(r.body)}\n`);
}

export async function startAdmin(o: AdminOptions): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    // Nothing is read from request bodies: let them drain.
    req.resume();
    handle(req, o).then(
      (r) => send(res, r),
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  if (o.token === undefined) {
    const loopback = o.host === '127.0.0.1' || o.host === '::1' || o.host === 'localhost';
    o.log?.warn(
      { host: o.host, port: (server.address() as AddressInfo).port },
      loopback ? 'admin API has no token (admin.token): listening on loopback only' : 'admin API has no token (admin.token) and is reachable from the network',
    );
  }
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A half-sent request must not hold shutdown up.
        server.closeAllConnections();
      }),
  };
}

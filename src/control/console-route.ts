/**
 * The web console on the admin port (docs/console.md):
 *
 *   GET /                        the page (src/control/console/index.html)
 *   GET /console/{file}          its script and style sheet
 *   GET /console/lib/{player}    mpegts.js and hls.js, from node_modules
 *   GET /api/v1/console          where the playback port is: `{ playback: { host, httpPort, httpsPort } }`
 *
 * The static files stay in src/ (tsc copies nothing else) and are read
 * relative to the package root, as app/version.ts reads package.json, so
 * the image needs them next to dist/ (k8s/Dockerfile). A browser cannot
 * send a bearer header on page load: these GETs also take `?token=`, and
 * the page's script sends it as `Authorization: Bearer` on its API calls.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { SluiceError } from '../core/errors.js';

/** Where players reach this node (the page builds its player URLs from it). */
export interface PlaybackPorts {
  /** http.host as configured; a wildcard address means "the host the page came from". */
  host: string;
  httpPort: number | undefined;
  httpsPort: number | undefined;
}

export interface ConsoleOptions {
  playback?: () => PlaybackPorts;
}

/** What admin.ts sends (structurally its Reply): a Buffer body with its own headers. */
export interface ConsoleReply {
  status: number;
  body: Buffer | { playback: { host: string | null; httpPort: number | null; httpsPort: number | null } };
  type?: string;
  headers?: Record<string, string>;
}

const STATIC_DIR = fileURLToPath(new URL('../../../src/control/console/', import.meta.url));
const require = createRequire(import.meta.url);

interface Asset {
  /** Absolute path, resolved on first use (a missing player library fails its request, not the start). */
  file: () => string;
  type: string;
  /** Players are versioned by package-lock.json; the console's own files change with sluice. */
  cache: string;
}

const own = (name: string, type: string): Asset => ({ file: () => STATIC_DIR + name, type, cache: 'no-cache' });
const lib = (spec: string): Asset => ({ file: () => require.resolve(spec), type: 'text/javascript; charset=utf-8', cache: 'private, max-age=86400' });

const ASSETS: Record<string, Asset> = {
  '/': own('index.html', 'text/html; charset=utf-8'),
  '/console/console.js': own('console.js', 'text/javascript; charset=utf-8'),
  '/console/plot.js': own('plot.js', 'text/javascript; charset=utf-8'),
  '/console/console.css': own('console.css', 'text/css; charset=utf-8'),
  '/console/lib/mpegts.js': lib('mpegts.js/dist/mpegts.js'),
  '/console/lib/hls.js': lib('hls.js/dist/hls.min.js'),
};

/**
 * Players fetch from the playback port (another origin): connect-src lets
 * them; MSE plays blob: URLs; hls.js runs its demuxer in a blob: worker.
 */
const CSP = [
  "default-src 'self'",
  "connect-src 'self' http: https: ws: wss:",
  'media-src blob:',
  'worker-src blob:',
  "img-src 'self' data:",
  "frame-ancestors 'none'",
].join('; ');

const cache = new Map<string, Buffer>();

async function load(path: string, a: Asset): Promise<Buffer> {
  let body = cache.get(path);
  if (!body) {
    let file = '';
    try {
      file = a.file();
      body = await readFile(file);
    } catch (err) {
      throw new SluiceError('ERR_INTERNAL', `console file ${path}: cannot read ${file || 'its package'}`, { cause: err });
    }
    cache.set(path, body);
  }
  return body;
}

/** `Bearer <token>` from `?token=` on a console GET; undefined elsewhere, so the API itself still needs the header. */
export function consoleBearer(url: URL, method: string | undefined): string | undefined {
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (!Object.hasOwn(ASSETS, url.pathname)) return undefined;
  const token = url.searchParams.get('token');
  return token ? `Bearer ${token}` : undefined;
}

/**
 * Asset URLs in the page get the page's `?token=` (a script tag cannot send
 * a header), percent-encoded so it cannot leave the attribute.
 */
function withToken(html: Buffer, token: string | null): Buffer {
  if (!token) return html;
  const q = `?token=${encodeURIComponent(token)}`;
  return Buffer.from(html.toString('utf8').replace(/(src|href)="(console\/[^"?]+)"/g, `$1="$2${q}"`));
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/** The handlers for a console path; undefined = not one. */
export function consoleRoute(path: string, o: ConsoleOptions): { GET: (q: URLSearchParams) => Promise<ConsoleReply> } | undefined {
  if (path === '/api/v1/console') {
    return {
      GET: async () => {
        const p = o.playback?.();
        const host = p && !WILDCARD.has(p.host) ? p.host : null;
        return { status: 200, body: { playback: { host, httpPort: p?.httpPort ?? null, httpsPort: p?.httpsPort ?? null } } };
      },
    };
  }
  const asset = Object.hasOwn(ASSETS, path) ? ASSETS[path] : undefined;
  if (!asset) return undefined;
  return {
    GET: async (q) => {
      const raw = await load(path, asset);
      const page = path === '/';
      const headers: Record<string, string> = { 'cache-control': asset.cache, 'x-content-type-options': 'nosniff' };
      // The page's URL may carry the token: keep it out of Referer headers.
      if (page) Object.assign(headers, { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' });
      return { status: 200, body: page ? withToken(raw, q.get('token')) : raw, type: asset.type, headers };
    },
  };
}

/**
 * HLS requests as a player (or a CDN edge) makes them, for the server
 * tests: each on a fresh TCP connection (node:http, agent: false), so on a
 * cluster every request may land on either worker, unless a keep-alive
 * agent holds one connection (one worker); the answer is read whole with
 * its status and headers.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import { withTimeout } from '../helpers/net.js';
import { parseMediaPlaylist, type MediaPlaylist } from './m3u8.js';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** ms from the request to the end of the answer. */
  tookMs: number;
}

export interface RequestOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** Rejects after this long (default 10 s). */
  timeoutMs?: number;
  /** A keep-alive agent (maxSockets 1: every request on one connection); default a fresh connection each. */
  agent?: http.Agent;
}

/** One request on its own connection. */
export function request(url: string, opts: RequestOptions = {}): Promise<HttpAnswer> {
  const t0 = Date.now();
  const answer = new Promise<HttpAnswer>((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), tookMs: Date.now() - t0 }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
  return withTimeout(answer, opts.timeoutMs ?? 10_000, `${opts.method ?? 'GET'} ${url}`);
}

/** A media playlist fetched and parsed (200 required); `text` is kept for messages. */
export async function playlist(url: string, opts: RequestOptions = {}): Promise<{ pl: MediaPlaylist; text: string; answer: HttpAnswer }> {
  const answer = await request(url, opts);
  const text = answer.body.toString('utf8');
  if (answer.status !== 200) throw new Error(`GET ${url}: ${answer.status} ${text.trim()}`);
  return { pl: parseMediaPlaylist(text), text, answer };
}

/** `uri` (as listed in the playlist at `playlistUrl`) made absolute. */
export const resolveUri = (playlistUrl: string, uri: string): string => new URL(uri, playlistUrl).toString();

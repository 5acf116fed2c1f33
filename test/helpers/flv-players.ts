/**
 * HTTP-FLV and WS-FLV players for tests: each collects what it receives
 * into an FlvCollector and never throws on a connection the server cuts.
 */
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { FlvCollector } from './flv-collector.js';

export interface HttpFlvPlayer {
  req: ClientRequest;
  /** Resolves with the response head; rejects on a request error. */
  res: Promise<IncomingMessage>;
  flv: FlvCollector;
  /** The response or the request has ended (or failed). */
  ended: boolean;
  close(): void;
}

/** GET `url` on its own connection (no agent). */
export function getFlv(url: string): HttpFlvPlayer {
  const flv = new FlvCollector();
  const req = http.get(url, { agent: false });
  const p: HttpFlvPlayer = {
    req,
    flv,
    ended: false,
    res: new Promise<IncomingMessage>((resolve, reject) => {
      req.once('error', reject);
      req.once('response', (r) => {
        // Only a 200 carries FLV; an error status's body is text.
        r.on('data', (b: Buffer) => r.statusCode === 200 && flv.push(b));
        r.on('error', () => undefined);
        r.on('close', () => (p.ended = true));
        resolve(r);
      });
    }),
    close: () => req.destroy(),
  };
  req.on('error', () => (p.ended = true));
  req.on('close', () => (p.ended = true));
  p.res.catch(() => undefined); // a destroyed request rejects; tests that care await it
  return p;
}

export interface WsFlvPlayer {
  ws: WebSocket;
  flv: FlvCollector;
  /** Text (non-binary) messages received: WS-FLV must send none. */
  textMessages: number;
  /** The largest binary message received, bytes. */
  maxMessage: number;
  opened: Promise<void>;
  close(): void;
}

/** A WebSocket to `url` (ws://...): binary messages are FLV bytes. */
export function wsFlv(url: string): WsFlvPlayer {
  const ws = new WebSocket(url);
  const c: WsFlvPlayer = {
    ws,
    flv: new FlvCollector(),
    textMessages: 0,
    maxMessage: 0,
    opened: new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    close: () => ws.terminate(),
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) return void c.textMessages++;
    c.maxMessage = Math.max(c.maxMessage, data.length);
    c.flv.push(data);
  });
  ws.on('error', () => undefined);
  c.opened.catch(() => undefined);
  return c;
}

/** The HTTP status a WebSocket upgrade to `url` gets: 101 when it opens, else the refusal's status. */
export function wsStatus(url: string): Promise<number> {
  const ws = new WebSocket(url);
  return new Promise<number>((resolve) => {
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => resolve(101));
    ws.on('error', () => resolve(0));
  }).finally(() => ws.terminate());
}

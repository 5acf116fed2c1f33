/**
 * How a synthetic player connects: RTMP (our RtmpClient), HTTP-FLV (a
 * streamed GET), WS-FLV (binary WebSocket frames) and LL-HLS (polling,
 * hls-player.ts), each delivering audio/video/data tags to the same
 * handlers. FLV bytes go through the socket-free FlvDemuxer.
 */
import http from 'node:http';
import https from 'node:https';
import WebSocket from 'ws';
import { SluiceError } from '../src/core/errors.js';
import { FlvDemuxer } from '../src/protocol/flv-tag.js';
import { RtmpClient } from '../src/rtmp/client/rtmp-client.js';
import { openHls } from './hls-player.js';
import type { PlayerAssignment } from './messages.js';
import { wallNowMs } from './schedule.js';

export interface PlayHandlers {
  /** The play request goes out now (RTMP: after connect; HTTP/WS: the request itself). */
  onPlayRequested(): void;
  /** Transport up: RTMP connect _result, HTTP response headers, WebSocket open. */
  onConnected(): void;
  onTag(type: number, payload: Uint8Array, receivedMs: number): void;
  onBytes(n: number): void;
  /** The connection ended; `err` unless we closed it. Called once, and only after open resolved. */
  onClose(err: Error | undefined): void;
  /** Something failed and the player carried on (HLS: a request it retried). */
  onError?(err: Error): void;
}

export interface PlayConnection {
  /** Closes the connection; resolves once the socket is gone. */
  close(): Promise<void>;
}

/** Resolves once playing (RTMP Play.Start, HTTP 200, WebSocket open); rejects on failure or timeout. */
/** `insecure`: TLS certificates are not checked (loadtest --insecure). */
export function openPlayer(a: PlayerAssignment, timeoutMs: number, h: PlayHandlers, insecure = false): Promise<PlayConnection> {
  switch (a.protocol) {
    case 'rtmp':
      return openRtmp(a, timeoutMs, h, insecure);
    case 'http-flv':
      return openHttpFlv(a, timeoutMs, h, insecure);
    case 'ws-flv':
      return openWsFlv(a, timeoutMs, h, insecure);
    case 'hls':
      return openHls(a, timeoutMs, h, insecure);
  }
}

async function openRtmp(a: PlayerAssignment, timeoutMs: number, h: PlayHandlers, insecure: boolean): Promise<PlayConnection> {
  const c = await RtmpClient.connect(a.url, { timeoutMs, tlsVerify: !insecure });
  h.onConnected();
  let counted = 0;
  c.on('media', (m) => {
    h.onBytes(c.stats.bytesIn - counted);
    counted = c.stats.bytesIn;
    h.onTag(m.type, m.payload, wallNowMs());
  });
  try {
    h.onPlayRequested();
    await c.play(a.name);
  } catch (err) {
    c.destroy();
    throw err;
  }
  c.on('close', (err) => h.onClose(err));
  if (c.isClosed) h.onClose(c.error);
  return { close: () => c.close() };
}

/**
 * The FLV side shared by HTTP-FLV and WS-FLV: bytes in → demuxed tags out,
 * and the one close report. `abort` drops the connection (on garbage).
 */
class FlvPlay {
  /** We closed it: the close that follows is no error. */
  closing = false;
  private ended = false;
  private readonly demux = new FlvDemuxer();

  constructor(
    private readonly what: string,
    private readonly h: PlayHandlers,
    private readonly abort: () => void,
  ) {}

  readonly push = (chunk: Buffer): void => {
    const now = wallNowMs();
    this.h.onBytes(chunk.length);
    try {
      for (const t of this.demux.push(chunk)) this.h.onTag(t.type, t.data, now);
    } catch (err) {
      this.end(new SluiceError('ERR_FLV', this.what, { cause: err }));
      this.abort();
    }
  };

  /** Reports the end once: no error when we closed it, else `err` or "closed by the server". */
  end(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.h.onClose(this.closing ? undefined : (err ?? new SluiceError('ERR_PROTOCOL', `${this.what}: closed by the server`)));
  }

  /** A close() that asks `stop` to end the connection and resolves once `closed` fires (at once if `isClosed`). */
  closer(isClosed: () => boolean, onceClosed: (f: () => void) => void, stop: () => void): PlayConnection {
    return {
      close: () =>
        new Promise<void>((done) => {
          this.closing = true;
          if (isClosed()) return done();
          onceClosed(done);
          stop();
        }),
    };
  }
}

function openHttpFlv(a: PlayerAssignment, timeoutMs: number, h: PlayHandlers, insecure: boolean): Promise<PlayConnection> {
  return new Promise((resolve, reject) => {
    const get = a.url.startsWith('https:') ? https.get : http.get;
    h.onPlayRequested();
    const req = get(a.url, { agent: false, rejectUnauthorized: !insecure, headers: { 'user-agent': 'sluice-loadtest' } });
    const play = new FlvPlay(`GET ${a.url}`, h, () => req.destroy());
    let open = false;
    const timer = setTimeout(() => req.destroy(new SluiceError('ERR_TIMEOUT', `GET ${a.url}: no response within ${timeoutMs} ms`)), timeoutMs);
    req.on('socket', (s) => s.setNoDelay(true));
    req.on('error', (err) => {
      clearTimeout(timer);
      if (!open) reject(new SluiceError('ERR_PROTOCOL', `GET ${a.url}`, { cause: err }));
    });
    req.on('response', (res) => {
      clearTimeout(timer);
      if (res.statusCode !== 200) {
        res.resume();
        req.destroy();
        reject(new SluiceError('ERR_STREAM', `GET ${a.url}: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
        return;
      }
      open = true;
      h.onConnected();
      res.on('data', play.push);
      res.on('error', (err) => play.end(err));
      res.on('close', () => play.end());
      resolve(play.closer(() => res.closed, (f) => res.once('close', f), () => req.destroy()));
    });
  });
}

function openWsFlv(a: PlayerAssignment, timeoutMs: number, h: PlayHandlers, insecure: boolean): Promise<PlayConnection> {
  return new Promise((resolve, reject) => {
    h.onPlayRequested();
    const ws = new WebSocket(a.url, { perMessageDeflate: false, handshakeTimeout: timeoutMs, rejectUnauthorized: !insecure, headers: { 'user-agent': 'sluice-loadtest' } });
    const play = new FlvPlay(`WebSocket ${a.url}`, h, () => ws.terminate());
    let open = false;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) play.push(data);
    });
    ws.on('error', (err) => {
      if (!open) reject(new SluiceError('ERR_PROTOCOL', `WebSocket ${a.url}`, { cause: err }));
      else play.end(err);
    });
    ws.on('close', (code) => {
      if (open) play.end(new SluiceError('ERR_PROTOCOL', `WebSocket ${a.url}: closed by the server (${code})`));
    });
    ws.on('open', () => {
      open = true;
      h.onConnected();
      const stop = (): void => {
        ws.close(1000);
        setTimeout(() => ws.terminate(), 1000).unref();
      };
      resolve(play.closer(() => ws.readyState === WebSocket.CLOSED, (f) => ws.once('close', f), stop));
    });
  });
}

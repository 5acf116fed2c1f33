/**
 * How a synthetic player connects: RTMP (our RtmpClient), HTTP-FLV (a
 * streamed GET), WS-FLV (binary WebSocket frames) and LL-HLS (polling,
 * hls-player.ts), each delivering audio/video/data tags to the same
 * handlers. FLV bytes go through the socket-free FlvDemuxer.
 */
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { SluiceError } from '../src/core/errors.js';
import { FlvDemuxer } from '../src/protocol/flv-tag.js';
import { RtmpClient } from '../src/rtmp/client/rtmp-client.js';
import { openHls } from './hls-player.js';
import { ChunkedBody } from './chunked-body.js';
import { ScratchPayloads } from './scratch-payloads.js';
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
  // Frames are read into reused buffers: the tally looks at each one only while it is delivered.
  const c = await RtmpClient.connect(a.url, { timeoutMs, tlsVerify: !insecure, ingest: new ScratchPayloads() });
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
  // Tags are views of what was pushed where they can be: the tally reads each one before the next push.
  private readonly demux = new FlvDemuxer({ views: true });

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

/**
 * Every plain HTTP-FLV player on this thread reads into this buffer: each
 * read is decoded and tallied before the next lands, and what outlives it
 * (a partial head, a tag split across reads) is copied. It spares Node's
 * ArrayBuffer per read, and the collections they cost the player thread.
 */
const httpReadBuffer = Buffer.allocUnsafe(64 * 1024);

/** Response head bound: status line and headers (sluice sends a few hundred bytes). */
const MAX_HEAD = 16 * 1024;

/**
 * A GET over a raw socket: the head read once, then the body straight to
 * the demuxer, chunked framing squeezed out in place (chunked-body.ts).
 */
function openHttpFlv(a: PlayerAssignment, timeoutMs: number, h: PlayHandlers, insecure: boolean): Promise<PlayConnection> {
  return new Promise((resolve, reject) => {
    const url = new URL(a.url);
    const secure = url.protocol === 'https:';
    const port = Number(url.port || (secure ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const sock: net.Socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: !insecure })
      : net.connect({ host, port, onread: { buffer: httpReadBuffer, callback: (n) => (onRead(httpReadBuffer.subarray(0, n)), true) } });
    const what = `GET ${a.url}`;
    const play = new FlvPlay(what, h, () => sock.destroy());
    let head: Buffer | null = Buffer.alloc(0);
    let body: ChunkedBody | null = null;
    const fail = (err: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      if (head) reject(err);
      else play.end(err);
    };
    const timer = setTimeout(() => fail(new SluiceError('ERR_TIMEOUT', `${what}: no response within ${timeoutMs} ms`)), timeoutMs);
    sock.setNoDelay(true);
    h.onPlayRequested();
    sock.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: sluice-loadtest\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
    const onBody = (chunk: Buffer): void => {
      try {
        play.push(body ? body.push(chunk) : chunk);
      } catch (err) {
        fail(new SluiceError('ERR_PROTOCOL', what, { cause: err }));
      }
    };
    const onRead = (chunk: Buffer): void => {
      if (!head) return onBody(chunk);
      // A copy: the read buffer is reused (httpReadBuffer).
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD) fail(new SluiceError('ERR_PROTOCOL', `${what}: response head over ${MAX_HEAD} bytes`));
        return;
      }
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      const rest = head.subarray(end + 4);
      const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
      if (!status) return fail(new SluiceError('ERR_PROTOCOL', `${what}: not an HTTP response`));
      if (status[1] !== '200') return fail(new SluiceError('ERR_STREAM', `${what}: HTTP ${status[1]} ${status[2] ?? ''}`.trim()));
      clearTimeout(timer);
      head = null;
      if (lines.some((l) => /^transfer-encoding:.*chunked/i.test(l))) body = new ChunkedBody();
      h.onConnected();
      resolve(play.closer(() => sock.destroyed, (f) => sock.once('close', f), () => sock.destroy()));
      // Body bytes that came with the head wait for the caller to have the connection (a close reported before would miscount it).
      if (rest.length > 0) {
        const early = Buffer.from(rest);
        sock.pause();
        setImmediate(() => {
          onBody(early);
          sock.resume();
        });
      }
    };
    if (secure) sock.on('data', onRead);
    sock.on('error', (err) => fail(new SluiceError('ERR_PROTOCOL', what, { cause: err })));
    sock.on('close', () => {
      clearTimeout(timer);
      if (head) reject(new SluiceError('ERR_PROTOCOL', `${what}: closed before a response`));
      else play.end();
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

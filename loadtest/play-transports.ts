/**
 * How a synthetic player connects: RTMP (our RtmpClient), HTTP-FLV (a
 * streamed GET) and WS-FLV (binary WebSocket frames), both over a raw
 * socket (flv-over-http.ts), and LL-HLS (polling, hls-player.ts), each
 * delivering audio/video/data tags to the same handlers.
 */
import { RtmpClient } from '../src/rtmp/client/rtmp-client.js';
import { openHls } from './hls-player.js';
import { openHttpFlv, openWsFlv } from './flv-over-http.js';
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

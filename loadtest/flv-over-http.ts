/**
 * The load generator's HTTP-FLV and WS-FLV players: one GET over a raw
 * socket, its response head read once, then the body decoded in place
 * (chunked framing by chunked-body.ts, WebSocket framing by ws-frames.ts)
 * and straight into the FLV demuxer. No node:http or ws stream machinery,
 * and no buffer per read: at 500 players those were the player thread's
 * largest cost, and the latency it measured was then mostly its own.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { SluiceError } from '../src/core/errors.js';
import { sharedReads } from '../src/core/shared-reads.js';
import { FlvDemuxer } from '../src/protocol/flv-tag.js';
import { ChunkedBody } from './chunked-body.js';
import type { PlayerAssignment } from './messages.js';
import type { PlayConnection, PlayHandlers } from './play-transports.js';
import { wallNowMs } from './schedule.js';
import { WsFrames, WsOpcode, clientControlFrame, closeCodeOf, closePayload } from './ws-frames.js';

/** Response head bound: status line and headers (sluice sends a few hundred bytes). */
const MAX_HEAD = 16 * 1024;

/** RFC 6455 §1.3: what the server hashes with our key. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * The FLV side: bytes in → demuxed tags out, and the one close report.
 * `abort` drops the connection (on garbage).
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
}

/** Takes the framing out of a read, in place; `after` runs once its body bytes are handled (a WebSocket Close). */
interface BodyDecoder {
  push(buf: Buffer): Buffer;
  after?(): void;
}

/** What differs between the two: the request, what a good response head is, the body's framing, a clean close. */
interface Mode {
  what: string;
  request(url: URL): string;
  /** Checks the head (status code, reason, a header's value by lower-case name); returns the body's decoder, or throws. */
  accept(status: string, reason: string, header: (name: string) => string | undefined): BodyDecoder;
  stop(sock: net.Socket): void;
}

function httpMode(a: PlayerAssignment): Mode {
  return {
    what: `GET ${a.url}`,
    request: (url) => `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: sluice-loadtest\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
    accept: (status, reason, header) => {
      if (status !== '200') throw new SluiceError('ERR_STREAM', `GET ${a.url}: HTTP ${status} ${reason}`.trim());
      return /chunked/i.test(header('transfer-encoding') ?? '') ? new ChunkedBody() : { push: (b) => b };
    },
    stop: (sock) => sock.destroy(),
  };
}

function wsMode(a: PlayerAssignment, play: () => FlvPlay, sock: () => net.Socket): Mode {
  const key = randomBytes(16).toString('base64');
  const what = `WebSocket ${a.url}`;
  const onControl = (opcode: number, payload: Buffer): void => {
    if (opcode === WsOpcode.Ping) sock().write(clientControlFrame(WsOpcode.Pong, payload));
  };
  /** The server's Close: reported, answered unless it answers ours (RFC 6455 §5.5.1), and the socket ended. */
  const onClose = (payload: Buffer): void => {
    play().end(new SluiceError('ERR_PROTOCOL', `${what}: closed by the server (${closeCodeOf(payload)})`));
    const s = sock();
    if (s.destroyed) return;
    // The answer to our own Close needs none back.
    if (play().closing) return void s.destroy();
    s.end(clientControlFrame(WsOpcode.Close, payload.subarray(0, 2)));
    setTimeout(() => s.destroy(), 1000).unref();
  };
  return {
    what,
    request: (url) =>
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: sluice-loadtest\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    accept: (status, reason, header) => {
      if (status !== '101') throw new SluiceError('ERR_STREAM', `${what}: HTTP ${status} ${reason}`.trim());
      const want = createHash('sha1').update(key + WS_GUID).digest('base64');
      if (header('sec-websocket-accept') !== want) throw new SluiceError('ERR_PROTOCOL', `${what}: no valid Sec-WebSocket-Accept`);
      const frames = new WsFrames(onControl);
      let closed = false;
      return {
        push: (b) => frames.push(b),
        after: () => {
          if (closed || !frames.closePayload) return;
          closed = true;
          onClose(frames.closePayload);
        },
      };
    },
    stop: (s) => {
      s.write(clientControlFrame(WsOpcode.Close, closePayload(1000)));
      // A server that does not answer our Close in time is dropped.
      setTimeout(() => s.destroy(), 1000).unref();
    },
  };
}

export function openHttpFlv(a: PlayerAssignment, timeoutMs: number, h: PlayHandlers, insecure: boolean): Promise<PlayConnection> {
  return openFlvOverHttp(a, timeoutMs, h, insecure, () => httpMode(a));
}

export function openWsFlv(a: PlayerAssignment, timeoutMs: number, h: PlayHandlers, insecure: boolean): Promise<PlayConnection> {
  return openFlvOverHttp(a, timeoutMs, h, insecure, (play, sock) => wsMode(a, play, sock));
}

function openFlvOverHttp(
  a: PlayerAssignment,
  timeoutMs: number,
  h: PlayHandlers,
  insecure: boolean,
  modeOf: (play: () => FlvPlay, sock: () => net.Socket) => Mode,
): Promise<PlayConnection> {
  return new Promise((resolve, reject) => {
    // ws:// and wss:// name the same request as http:// and https://.
    const url = new URL(a.url.replace(/^ws/, 'http'));
    const secure = url.protocol === 'https:';
    const port = Number(url.port || (secure ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const mode = modeOf(() => play, () => sock);
    const sock: net.Socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: !insecure })
      : // Each read is decoded and tallied before the next; a partial head and a tag split across reads are copied.
        net.connect({ host, port, onread: sharedReads((b) => onRead(b)) });
    const play = new FlvPlay(mode.what, h, () => sock.destroy());
    let head: Buffer | null = Buffer.alloc(0);
    let body: BodyDecoder | null = null;
    const fail = (err: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      if (head) reject(err);
      else play.end(err);
    };
    const timer = setTimeout(() => fail(new SluiceError('ERR_TIMEOUT', `${mode.what}: no response within ${timeoutMs} ms`)), timeoutMs);
    sock.setNoDelay(true);
    h.onPlayRequested();
    sock.write(mode.request(url));
    const onBody = (chunk: Buffer): void => {
      try {
        play.push(body!.push(chunk));
        body!.after?.();
      } catch (err) {
        fail(new SluiceError('ERR_PROTOCOL', mode.what, { cause: err }));
      }
    };
    const onRead = (chunk: Buffer): void => {
      if (!head) return onBody(chunk);
      // A copy: the read buffer is reused.
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD) fail(new SluiceError('ERR_PROTOCOL', `${mode.what}: response head over ${MAX_HEAD} bytes`));
        return;
      }
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      const rest = head.subarray(end + 4);
      const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
      if (!status) return fail(new SluiceError('ERR_PROTOCOL', `${mode.what}: not an HTTP response`));
      try {
        body = mode.accept(status[1]!, status[2] ?? '', (name) => headerValue(lines, name));
      } catch (err) {
        return fail(err as Error);
      }
      clearTimeout(timer);
      head = null;
      h.onConnected();
      resolve({
        close: () =>
          new Promise<void>((done) => {
            play.closing = true;
            if (sock.destroyed) return done();
            sock.once('close', () => done());
            mode.stop(sock);
          }),
      });
      // Body bytes that came with the head wait for the caller to have the connection (a close reported before would miscount it).
      if (rest.length > 0) {
        sock.pause();
        setImmediate(() => {
          // Closed by the caller in the meantime: nothing more to report.
          if (sock.destroyed || play.closing) return;
          onBody(rest);
          sock.resume();
        });
      }
    };
    if (secure) sock.on('data', onRead);
    sock.on('error', (err) => fail(new SluiceError('ERR_PROTOCOL', mode.what, { cause: err })));
    sock.on('close', () => {
      clearTimeout(timer);
      if (head) reject(new SluiceError('ERR_PROTOCOL', `${mode.what}: closed before a response`));
      else play.end();
    });
  });
}

/** The value of the first header line named `name` (lower case), trimmed. */
function headerValue(lines: string[], name: string): string | undefined {
  for (const l of lines.slice(1)) {
    const colon = l.indexOf(':');
    if (colon > 0 && l.slice(0, colon).trim().toLowerCase() === name) return l.slice(colon + 1).trim();
  }
  return undefined;
}

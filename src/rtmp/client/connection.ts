/**
 * The transport under RtmpClient: a net.Socket under the connection
 * machine (protocol/rtmp-connection.ts: the client handshake, the chunk
 * stream both ways, protocol control and User Control), and the client's
 * lifecycle. Commands are left to the layer above
 * (commands.ts) through `onCommand`.
 *
 * Every wait is bounded by a timeout; a protocol error, a socket error or a
 * throwing listener ends this client only, rejecting whatever was waiting.
 */
import net from 'node:net';
import tls from 'node:tls';
import { EventEmitter } from 'node:events';
import { describeError, SluiceError, type ErrorCode } from '../../core/errors.js';
import { sharedReads } from '../../core/shared-reads.js';
import { ClientHandshake } from '../../protocol/handshake.js';
import * as control from '../../protocol/control.js';
import { decodeCommand, type Command } from '../../protocol/commands.js';
import { splitAggregate } from '../../protocol/aggregate.js';
import { DEFAULT_CHUNK_SIZE, RtmpConnection, type PeerControl } from '../../protocol/rtmp-connection.js';
import { MessageType, type MessageHeader } from '../../protocol/types.js';
import type { RtmpUrl } from '../url.js';
import type { ClientStats, ResolvedClientOptions, RtmpClientEvents, RtmpClientOptions } from './types.js';

/** Our chunk streams (ffmpeg's layout): control 2, NetConnection 3, audio 4, data 5, video 6, NetStream 8. */
export const CSID = { control: 2, connection: 3, audio: 4, data: 5, video: 6, stream: 8 } as const;

type Phase = 'connecting' | 'handshake' | 'chunks' | 'closed';

interface Waiter {
  fail(err: Error): void;
}

export abstract class RtmpClientConnection extends EventEmitter<RtmpClientEvents> {
  readonly url: RtmpUrl;
  readonly socket: net.Socket;
  /** When the transport is up: TCP connected, or (rtmps) the TLS handshake done. */
  private readonly connectEvent: 'connect' | 'secureConnect';
  readonly stats: ClientStats = { bytesIn: 0, bytesOut: 0, messagesIn: 0, mediaIn: 0, acksSent: 0, acksReceived: 0, pingsAnswered: 0 };
  protected readonly opts: ResolvedClientOptions;
  private phase: Phase = 'connecting';
  private readonly handshake: ClientHandshake;
  private readonly conn: RtmpConnection;
  private readonly waiters = new Set<Waiter>();
  private closeError: Error | undefined;
  private readonly closed: Promise<void>;
  private onHandshakeDone: (() => void) | undefined;

  protected constructor(url: RtmpUrl, opts: RtmpClientOptions) {
    super();
    // Each pending wait holds a listener for its lifetime; many concurrent waits are legitimate.
    this.setMaxListeners(100);
    this.url = url;
    this.opts = {
      timeoutMs: 5000,
      complexHandshake: true,
      chunkSize: 4096,
      amf3: false,
      flashVer: 'FMLE/3.0 (compatible; sluice)',
      connectObject: {},
      bufferLengthMs: 1000,
      maxMessageSize: 16 * 1024 * 1024,
      tlsVerify: true,
      ...opts,
    };
    this.handshake = new ClientHandshake({ complex: this.opts.complexHandshake });
    this.conn = new RtmpConnection(
      this.handshake,
      {
        write: (b) => !this.socket.destroyed && this.socket.write(b),
        handshakeDone: () => {
          this.phase = 'chunks';
          this.onHandshakeDone?.();
        },
        // Each message gets its own buffer (the payload handed to listeners is theirs to keep), unless a sink takes it.
        payloadFor: (h) => this.opts.ingest?.payloadFor(h) ?? Buffer.allocUnsafe(h.length),
        abandoned: (h, dest) => this.opts.ingest?.abandoned(h, dest),
        control: (c, h, payload) => this.onControl(c, h, payload as Buffer),
        message: (h, payload) => this.dispatch(h, payload as Buffer),
      },
      {
        // The server picks its chunk size; nothing is allocated per chunk, so accept up to the 24-bit length.
        maxChunkSize: 0xffffff,
        maxMessageSize: this.opts.maxMessageSize,
        maxChunkStreams: 64,
      },
      this.stats,
    );
    this.socket = url.tls
      ? tls.connect({
          host: url.host,
          port: url.port,
          servername: net.isIP(url.host) ? undefined : url.host,
          ca: this.opts.tlsCa && [...tls.rootCertificates, this.opts.tlsCa.toString()],
          rejectUnauthorized: this.opts.tlsVerify,
        })
      : // A read is parsed before the next lands; what outlives it (bodies, a split handshake packet or chunk header) is copied.
        net.connect({ host: url.host, port: url.port, noDelay: true, onread: sharedReads(this.onData) });
    this.connectEvent = url.tls ? 'secureConnect' : 'connect';
    this.socket.setNoDelay(true);
    if (url.tls) this.socket.on('data', this.onData);
    this.socket.on('error', (err) => this.fail(new SluiceError('ERR_PROTOCOL', 'socket error', { cause: err })));
    this.closed = new Promise((resolve) => {
      this.socket.once('close', () => {
        this.shutdown(this.phase === 'closed' ? undefined : new SluiceError('ERR_PROTOCOL', 'connection closed by the server'));
        resolve();
      });
    });
  }

  get isClosed(): boolean {
    return this.phase === 'closed';
  }

  /** Why the client closed, when it was not close(). */
  get error(): Error | undefined {
    return this.closeError;
  }

  /** The server's chunk size as we apply it. */
  get serverChunkSize(): number {
    return this.conn.peerChunkSize;
  }

  /** Window Acknowledgement Size the server announced (0: none yet). */
  get serverWindowAckSize(): number {
    return this.conn.peerWindow;
  }

  /** The ingest sink moved a partial message's body from `from` to `to`: read on into `to`. */
  moveDestination(from: Uint8Array, to: Uint8Array): boolean {
    return this.conn.moveDestination(from, to);
  }

  /** Bytes queued in our socket and not yet sent (for publishers that honour backpressure). */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  /** TCP connect, handshake, then our Set Chunk Size and Window Acknowledgement Size; `what` names the wait. */
  protected async openTransport(what: string): Promise<void> {
    await this.wait<void>(`${what}: tcp`, (done) => {
      this.socket.once(this.connectEvent, done);
      return () => this.socket.off(this.connectEvent, done);
    });
    this.phase = 'handshake';
    await this.wait<void>(`${what}: handshake`, (done) => {
      this.onHandshakeDone = done;
      this.conn.sendRaw(this.handshake.start());
      return () => (this.onHandshakeDone = undefined);
    });
    if (this.opts.chunkSize !== DEFAULT_CHUNK_SIZE) this.conn.setChunkSize(this.opts.chunkSize);
    if (this.opts.windowAckSize) this.sendControl(control.windowAckSize(this.opts.windowAckSize));
  }

  /**
   * Resolves with the next `event` whose arguments satisfy `accept`, within
   * `timeoutMs`; rejects if the client closes first.
   */
  next<K extends keyof RtmpClientEvents>(
    event: K,
    accept: (...args: RtmpClientEvents[K]) => boolean = () => true,
    timeoutMs = this.opts.timeoutMs,
  ): Promise<RtmpClientEvents[K]> {
    return this.wait<RtmpClientEvents[K]>(
      `waiting for ${event}`,
      (done) => {
        const on = (...args: RtmpClientEvents[K]): void => {
          if (accept(...args)) done(args);
        };
        // The emitter's listener type does not narrow through a generic K; the shape is RtmpClientEvents[K].
        const self = this as unknown as EventEmitter;
        self.on(event, on as (...a: unknown[]) => void);
        return () => self.off(event, on as (...a: unknown[]) => void);
      },
      timeoutMs,
    );
  }

  /** Ping Request (User Control 6) with `time`; resolves with the round trip in ms once the same time comes back. */
  ping(time = Math.floor(performance.now()) >>> 0): Promise<number> {
    const t0 = performance.now();
    const p = this.wait<number>(`ping ${time}`, (done) => {
      const on = (uc: control.UserControl): void => {
        if (uc.event === 'PingResponse' && uc.time === time) done(performance.now() - t0);
      };
      this.on('userControl', on);
      return () => this.off('userControl', on);
    });
    this.sendControl(control.pingRequest(time));
    return p;
  }

  // ---- reading control ---------------------------------------------------------

  /** Stop reading the socket (a stalled player): the server's writes back up. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  get readingPaused(): boolean {
    return this.socket.isPaused();
  }

  // ---- close ------------------------------------------------------------------

  /** Ends the connection after what is queued is sent; resolves once the socket has closed. */
  close(): Promise<void> {
    if (this.phase !== 'closed') {
      this.shutdown(undefined);
      this.socket.end();
      // A server that never answers our FIN must not hold us.
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
    return this.closed;
  }

  /** Abrupt close (RST-like): nothing queued is sent. */
  destroy(err?: Error): void {
    this.shutdown(err);
    this.socket.destroy();
  }

  /**
   * Marks the client closed once: every wait rejects (each wait's cleanup
   * also drops what it registered, such as a pending transaction), `close`
   * is emitted.
   */
  private shutdown(err: Error | undefined): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.conn.close();
    this.closeError = err;
    const reason = new SluiceError(errorCodeOf(err), `rtmp client ${this.url.tcUrl} closed${err ? `: ${describeError(err)}` : ''}`, { cause: err });
    for (const w of [...this.waiters]) w.fail(reason);
    this.safeEmit('close', err);
  }

  private fail(err: Error): void {
    if (this.phase === 'closed') return;
    this.destroy(err);
  }

  // ---- for the layers above -------------------------------------------------------

  /** A command message from the server, decoded. */
  protected abstract onCommand(h: MessageHeader, cmd: Command): void;

  /** A bounded wait: `setup` arms it and returns its cleanup; timeout or close rejects it. */
  protected wait<T>(
    what: string,
    setup: (done: (v: T) => void, fail: (err: Error) => void) => () => void,
    timeoutMs = this.opts.timeoutMs,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.phase === 'closed') {
        reject(new SluiceError(errorCodeOf(this.closeError), `${what}: client closed${this.closeError ? `: ${describeError(this.closeError)}` : ''}`));
        return;
      }
      let settled = false;
      let cleanup: () => void = () => undefined;
      const finish = (f: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        cleanup();
        f();
      };
      const waiter: Waiter = { fail: (err) => finish(() => reject(err)) };
      const timer = setTimeout(() => waiter.fail(new SluiceError('ERR_TIMEOUT', `${what}: nothing within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.add(waiter);
      cleanup = setup((v) => finish(() => resolve(v)), waiter.fail);
      if (settled) cleanup();
    });
  }

  protected sendControl(m: control.ControlMessage): void {
    this.send(m.header, m.payload);
  }

  /** One message, chunked; false before the handshake is done, once closed, or when the socket is backed up. */
  protected send(h: MessageHeader, payload: Uint8Array): boolean {
    return this.conn.send(h, payload);
  }

  /** A throwing listener ends this client (with that error), never the parser state or the process. */
  protected safeEmit<K extends keyof RtmpClientEvents>(event: K, ...args: RtmpClientEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: RtmpClientEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      if (event === 'close') return;
      this.fail(new SluiceError('ERR_INTERNAL', `a '${event}' listener threw`, { cause: err }));
    }
  }

  // ---- bytes in ----------------------------------------------------------------------

  private readonly onData = (buf: Buffer): void => {
    if (this.phase === 'closed') return;
    try {
      if (this.phase === 'connecting') throw new SluiceError('ERR_PROTOCOL', `${buf.length} bytes before the handshake started`);
      this.conn.push(buf);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  };

  /** Protocol control and User Control, already applied by the connection machine. */
  private onControl(c: PeerControl, h: MessageHeader, payload: Buffer): void {
    if (this.phase === 'closed') return;
    if (this.listenerCount('message') > 0) this.safeEmit('message', h, payload);
    if (c.type === 'UserControl') this.safeEmit('userControl', c.event);
    else this.safeEmit('control', c);
  }

  private dispatch(h: MessageHeader, payload: Buffer): void {
    if (this.phase === 'closed') return;
    if (this.listenerCount('message') > 0) this.safeEmit('message', h, payload);
    switch (h.type) {
      case MessageType.Audio:
      case MessageType.Video:
      case MessageType.DataAmf0:
      case MessageType.DataAmf3:
        this.stats.mediaIn++;
        this.safeEmit('media', { type: h.type, timestamp: h.timestamp, streamId: h.streamId, payload });
        return;
      case MessageType.Aggregate:
        // Split (and copied) only for 'media' listeners; a sink reads the 'message' whole.
        if (this.listenerCount('media') === 0) return;
        splitAggregate(h, payload, (sub, body) => {
          this.stats.mediaIn++;
          this.safeEmit('media', { type: sub.type, timestamp: sub.timestamp, streamId: h.streamId, payload: Buffer.from(body) });
        });
        return;
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3:
        this.onCommand(h, decodeCommand(h.type, payload));
        return;
      default:
        // Shared objects and unknown types: nothing a client of ours acts on.
        return;
    }
  }
}

function errorCodeOf(err: Error | undefined): ErrorCode {
  return err instanceof SluiceError ? err.code : 'ERR_PROTOCOL';
}

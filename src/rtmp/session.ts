/**
 * One RTMP connection served: the socket, the connection machine
 * (protocol/rtmp-connection.ts: handshake, chunks, control), timeouts, and
 * dispatch of commands and media to the NetConnection layer. Any error
 * ends this session only, with a coded reason in the log; nothing here can
 * reach another session.
 */
import type { Socket } from 'node:net';
import { describeError, errorCode, SluiceError, wrapError } from '../core/errors.js';
import { ServerHandshake } from '../protocol/handshake.js';
import type * as control from '../protocol/control.js';
import { decodeCommand, reconnectRequest, type OutMessage } from '../protocol/commands.js';
import { RtmpConnection, type PeerControl } from '../protocol/rtmp-connection.js';
import { MessageType, type MessageHeader } from '../protocol/types.js';
import type { Logger } from '../app/log.js';
import type { ServerContext, SessionInfo } from '../app/context.js';
import { clientId } from '../app/client-id.js';
import { NetConnection } from './net-connection.js';
import type { RtmpSessionIO } from './types.js';
import { ReceiveRateFloor } from './rate-floor.js';
import { SocketTransport } from './socket-transport.js';
import { reconnectTcUrl } from './url.js';

/** Message types a publishing session may send up to rtmp.maxMessageSize; everything else is held to rtmp.maxCommandBytes. */
const PUBLISHED_MEDIA = new Set<number>([MessageType.Audio, MessageType.Video, MessageType.DataAmf0, MessageType.DataAmf3, MessageType.Aggregate]);

let nextSessionId = 1;

export class RtmpSession implements RtmpSessionIO {
  readonly id = nextSessionId++;
  readonly peer: string;
  readonly log: Logger;
  readonly since = Date.now();
  /** Accept time, for the handshake-time histogram (sub-millisecond). */
  private readonly acceptedAt = performance.now();
  private readonly handshake = new ServerHandshake();
  readonly conn: RtmpConnection;
  readonly net: NetConnection;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** From the handshake until the session publishes or plays (rtmp.startTimeoutMs). */
  private startTimer: NodeJS.Timeout | undefined;
  private rateFloor: ReceiveRateFloor | undefined;
  /** Set once playing: a player may legitimately stay silent for ever. */
  private idleExempt = false;
  readonly transport: SocketTransport;
  /** Messages that arrived while a directory request was in flight (socket paused). */
  private held: { h: MessageHeader; payload: Uint8Array }[] | null = null;

  constructor(
    readonly socket: Socket,
    readonly ctx: ServerContext,
  ) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.transport = new SocketTransport(socket, ctx.config.player.directWrite);
    this.log = ctx.log.child({ clientId: clientId(ctx.workerId, 'rtmp', this.id), peer: this.peer });
    const cfg = ctx.config.rtmp;
    this.conn = new RtmpConnection(
      this.handshake,
      {
        write: (b) => !socket.destroyed && socket.write(b),
        handshakeDone: () => this.handshakeDone(),
        payloadFor: (h) => this.payloadFor(h),
        abandoned: (_h, dest) => this.net.stream.publishing?.stream.abandonMedia(dest),
        control: (c) => this.onControl(c),
        message: (h, payload) => {
          this.touch();
          if (this.held) this.held.push({ h, payload });
          else this.dispatch(h, payload);
        },
      },
      { maxChunkSize: cfg.maxIncomingChunkSize, maxMessageSize: cfg.maxMessageSize, maxChunkStreams: cfg.maxChunkStreams },
    );
    this.net = new NetConnection(this);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('peer closed'));
    this.handshakeTimer = setTimeout(
      () => this.fail(new SluiceError('ERR_TIMEOUT', `handshake not completed within ${cfg.handshakeTimeoutMs} ms`)),
      cfg.handshakeTimeoutMs,
    );
    this.touch();
  }

  get closed(): boolean {
    return this.conn.phase === 'closed';
  }

  get chunkSize(): number {
    return this.conn.chunkSize;
  }

  private readonly onData = (buf: Buffer): void => {
    try {
      this.conn.push(buf);
    } catch (err) {
      this.fail(err);
    }
  };

  private handshakeDone(): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    const cfg = this.ctx.config.rtmp;
    this.startTimer = setTimeout(
      () => this.fail(new SluiceError('ERR_TIMEOUT', `neither published nor played within ${cfg.startTimeoutMs} ms of the handshake (rtmp.startTimeoutMs)`)),
      cfg.startTimeoutMs,
    );
    this.rateFloor = new ReceiveRateFloor(
      { bytesRead: () => this.socket.bytesRead, midMessage: () => this.conn.reader.hasPartialMessage() },
      cfg.minBytesPerSecond,
      cfg.rateWindowMs,
      (err) => this.fail(err),
    );
    this.ctx.latency.handshake(performance.now() - this.acceptedAt);
    if (this.handshake.complex) this.ctx.counters.complexHandshakes++;
    this.log.debug({ complex: this.handshake.complex, schema: this.handshake.schema }, 'handshake done');
  }

  /** Audio/video of a publishing session go straight into the stream's ring; the rest into a buffer of its own. */
  private payloadFor(h: MessageHeader): Uint8Array {
    const publishing = this.net.stream.publishing;
    const max = this.ctx.config.rtmp.maxCommandBytes;
    // Only a publishing session's media may be large: anything else (and media before publish) is checked
    // at its header, before a byte is buffered, so a peer cannot make us assemble 16 MB it has not earned.
    if (h.length > max && !(publishing && PUBLISHED_MEDIA.has(h.type))) {
      throw new SluiceError(
        'ERR_MESSAGE_TOO_LARGE',
        `message type ${h.type} of ${h.length} bytes over rtmp.maxCommandBytes (${max})${publishing ? '' : ' from a session that is not publishing'}`,
      );
    }
    if ((h.type === MessageType.Audio || h.type === MessageType.Video) && publishing) return publishing.stream.beginMedia(h.length, this.payloadMoved);
    return Buffer.allocUnsafe(h.length);
  }

  /** The stream moved a partial message out of its ring (another message completed first): read on into the copy. */
  private readonly payloadMoved = (from: Uint8Array, to: Uint8Array): void => {
    this.conn.moveDestination(from, to);
  };

  /** Idle bound: a session must deliver a whole message this often (players excepted). */
  touch(): void {
    if (this.idleExempt) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      const ms = this.ctx.config.rtmp.idleTimeoutMs;
      this.idleTimer = setTimeout(
        () => this.fail(new SluiceError('ERR_TIMEOUT', `no complete message for ${ms} ms`)),
        ms,
      );
    }
  }

  started(): void {
    clearTimeout(this.startTimer);
    this.startTimer = undefined;
  }

  stopIdleTimer(): void {
    this.idleExempt = true;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Control is applied by the connection machine; a session counts as active when it arrives. */
  private onControl(c: PeerControl): void {
    this.touch();
    if (c.type === 'UserControl' && c.event.event === 'SetBufferLength') this.net.bufferLengthMs = c.event.bufferMs;
  }

  private dispatch(h: MessageHeader, payload: Uint8Array): void {
    const stream = this.net.stream;
    switch (h.type) {
      case MessageType.Audio:
      case MessageType.Video:
        stream.onMedia(h, payload);
        return;
      case MessageType.DataAmf0:
      case MessageType.DataAmf3:
        stream.onData(h, payload);
        return;
      case MessageType.Aggregate:
        stream.onAggregate(h, payload);
        return;
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3: {
        let cmd;
        try {
          cmd = decodeCommand(h.type, payload, this.ctx.config.amf);
        } catch (err) {
          throw wrapError('command', err);
        }
        this.net.onCommand(h, cmd);
        return;
      }
      case MessageType.SharedObjectAmf0:
      case MessageType.SharedObjectAmf3:
        // Shared objects are a Flash Media Server feature sluice does not offer.
        this.log.debug({ type: h.type }, 'shared object message ignored');
        return;
      default:
        throw new SluiceError('ERR_PROTOCOL', `unknown message type ${h.type} on chunk stream ${h.csid}`);
    }
  }

  hold(): void {
    this.held ??= [];
    this.socket.pause();
  }

  unhold(): void {
    const q = this.held;
    if (!q || this.closed) return;
    this.held = null;
    try {
      while (q.length > 0 && !this.held) {
        const m = q.shift()!;
        this.dispatch(m.h, m.payload);
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    // A replayed command may have held the session again: keep the rest for then.
    const again = this.held as typeof q | null;
    if (again) again.unshift(...q);
    else this.socket.resume();
  }

  send(m: OutMessage | control.ControlMessage): void {
    this.conn.send(m.header, m.payload);
  }

  setOutChunkSize(size: number): void {
    this.conn.setChunkSize(size);
  }

  info(): SessionInfo {
    const s = this.net.stream;
    return {
      id: this.id,
      peer: this.peer,
      role: s.publishing ? 'publisher' : s.playing ? 'player' : 'none',
      streamKey: s.publishing?.stream.key ?? s.playing?.stream.key,
      since: this.since,
      bytesIn: this.socket.bytesRead,
      bytesOut: this.bytesOut(),
      worker: this.ctx.workerId,
    };
  }

  private bytesOut(): number {
    return this.socket.bytesWritten + this.transport.directBytes;
  }

  /**
   * Drain: asks a client that announced E-RTMP reconnect to move (E-RTMP v2
   * "Reconnect Request"); false, and nothing sent, for any other. The
   * session goes on serving until the client leaves, as the spec asks of
   * the old server.
   */
  requestReconnect(description: string): boolean {
    const net = this.net;
    if (this.closed || net.app === undefined || !net.reconnectable) return false;
    const tcUrl = reconnectTcUrl(this.ctx.config.cluster.reconnectTcUrl, net.app, net.tcUrl);
    this.send(reconnectRequest(description, tcUrl));
    this.ctx.counters.reconnectRequests++;
    this.log.info({ streamKey: this.info().streamKey, tcUrl, reason: description }, 'reconnect requested');
    return true;
  }

  fail(err: unknown): void {
    if (this.closed) return;
    const code = errorCode(err);
    const counters = this.ctx.counters;
    counters.sessionErrors[code] = (counters.sessionErrors[code] ?? 0) + 1;
    if (this.conn.phase === 'handshake') counters.handshakeFailures++;
    this.log.warn({ code, reason: describeError(err), streamKey: this.info().streamKey }, 'session ended by error');
    this.close(describeError(err), true);
  }

  /** Idempotent; cascades to the publish/play state and the socket. */
  close(reason: string, destroy = false): void {
    if (this.closed) return;
    this.conn.close();
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.idleTimer);
    clearTimeout(this.startTimer);
    this.rateFloor?.stop();
    const streamKey = this.info().streamKey;
    this.net.teardown();
    this.ctx.sessions.delete(this.id);
    this.ctx.counters.bytesIn += this.socket.bytesRead;
    const bytes = { bytesIn: this.socket.bytesRead, bytesOut: this.bytesOut() };
    this.ctx.counters.bytesOut += bytes.bytesOut;
    this.log.info({ reason, streamKey, ...bytes, durationMs: Date.now() - this.since }, 'session closed');
    if (destroy) this.socket.destroy();
    else this.socket.end();
    // A peer that never reads our FIN must not hold the socket for ever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}

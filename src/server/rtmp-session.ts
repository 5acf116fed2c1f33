/**
 * One RTMP connection: handshake, chunk stream, protocol control, and
 * dispatch of commands and media. Any error ends this session only, with a
 * coded reason in the log; nothing here can reach another session.
 */
import type { Socket } from 'node:net';
import { describeError, errorCode, SluiceError, wrapError } from '../core/errors.js';
import { ServerHandshake } from '../protocol/handshake.js';
import { ChunkReader, type ChunkSink } from '../protocol/chunk-reader.js';
import { ChunkWriter } from '../protocol/chunk-writer.js';
import * as control from '../protocol/control.js';
import { decodeCommand, type OutMessage } from '../protocol/commands.js';
import { MessageType, type MessageHeader } from '../protocol/types.js';
import type { Logger } from './log.js';
import type { ServerContext, SessionInfo } from './context.js';
import { CommandHandler } from './rtmp-commands.js';

let nextSessionId = 1;

type Phase = 'handshake' | 'chunks' | 'closed';

export class RtmpSession {
  readonly id = nextSessionId++;
  readonly peer: string;
  readonly log: Logger;
  readonly since = Date.now();
  /** Accept time, for the handshake-time histogram (sub-millisecond). */
  private readonly acceptedAt = performance.now();
  private phase: Phase = 'handshake';
  private readonly handshake = new ServerHandshake();
  readonly reader: ChunkReader;
  readonly writer: ChunkWriter;
  readonly commands: CommandHandler;
  /** Bytes received since the handshake, for Acknowledgement (RTMP spec 5.4.3). */
  private received = 0;
  private lastAck = 0;
  private peerWindow = 0;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Set once playing: a player may legitimately stay silent for ever. */
  private idleExempt = false;
  /** Messages that arrived while a directory request was in flight (socket paused). */
  private held: { h: MessageHeader; payload: Uint8Array }[] | null = null;

  constructor(
    readonly socket: Socket,
    readonly ctx: ServerContext,
  ) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log = ctx.log.child({ clientId: this.id, peer: this.peer });
    const cfg = ctx.config.rtmp;
    this.reader = new ChunkReader(this.sink, {
      maxChunkSize: cfg.maxIncomingChunkSize,
      maxMessageSize: cfg.maxMessageSize,
      maxChunkStreams: cfg.maxChunkStreams,
    });
    this.writer = new ChunkWriter(128);
    this.commands = new CommandHandler(this);
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
    return this.phase === 'closed';
  }

  private readonly onData = (buf: Buffer): void => {
    if (this.phase === 'closed') return;
    try {
      if (this.phase === 'handshake') {
        const r = this.handshake.push(buf);
        for (const b of r.send) this.socket.write(b);
        if (!r.done) return;
        this.handshakeDone();
        if (r.rest.length === 0) return;
        buf = Buffer.from(r.rest.buffer, r.rest.byteOffset, r.rest.length);
      }
      this.received += buf.length;
      this.reader.push(buf);
      if (this.peerWindow > 0 && this.received - this.lastAck >= this.peerWindow) {
        this.lastAck = this.received;
        this.sendControl(control.acknowledgement(this.received % 0x100000000));
      }
    } catch (err) {
      this.fail(err);
    }
  };

  private handshakeDone(): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.phase = 'chunks';
    this.ctx.latency.handshake(performance.now() - this.acceptedAt);
    if (this.handshake.complex) this.ctx.counters.complexHandshakes++;
    this.log.debug({ complex: this.handshake.complex, schema: this.handshake.schema }, 'handshake done');
  }

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

  /** Players legitimately send nothing for long stretches. */
  stopIdleTimer(): void {
    this.idleExempt = true;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private readonly sink: ChunkSink = {
    begin: (h: MessageHeader): Uint8Array => {
      if ((h.type === MessageType.Audio || h.type === MessageType.Video) && this.commands.publishing) {
        return this.commands.publishing.stream.beginMedia(h.length);
      }
      return Buffer.allocUnsafe(h.length);
    },
    message: (h: MessageHeader, payload: Uint8Array): void => {
      this.touch();
      if (this.held) this.held.push({ h, payload });
      else this.dispatch(h, payload);
    },
    abandon: (_h: MessageHeader, dest: Uint8Array): void => {
      this.commands.publishing?.stream.abandonMedia(dest);
    },
  };

  private dispatch(h: MessageHeader, payload: Uint8Array): void {
    switch (h.type) {
      case MessageType.SetChunkSize:
        this.reader.setChunkSize(control.decodeU32Control(payload, 'set chunk size') & 0x7fffffff);
        return;
      case MessageType.Abort:
        this.reader.abort(control.decodeU32Control(payload, 'abort csid'));
        return;
      case MessageType.Acknowledgement:
        return;
      case MessageType.WindowAckSize:
        this.peerWindow = control.decodeU32Control(payload, 'window ack size');
        return;
      case MessageType.SetPeerBandwidth:
        control.decodePeerBandwidth(payload);
        return;
      case MessageType.UserControl: {
        const uc = control.decodeUserControl(payload);
        if (uc.event === 'PingRequest') this.sendControl(control.pingResponse(uc.time));
        else if (uc.event === 'SetBufferLength') this.commands.bufferLengthMs = uc.bufferMs;
        return;
      }
      case MessageType.Audio:
      case MessageType.Video:
        this.commands.onMedia(h, payload);
        return;
      case MessageType.DataAmf0:
      case MessageType.DataAmf3:
        this.commands.onData(h, payload);
        return;
      case MessageType.Aggregate:
        this.commands.onAggregate(h, payload);
        return;
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3: {
        let cmd;
        try {
          cmd = decodeCommand(h.type, payload, this.ctx.config.amf);
        } catch (err) {
          throw wrapError('command', err);
        }
        this.commands.onCommand(h, cmd);
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

  /**
   * Stops dispatching while the directory decides on a publish or play:
   * the socket is paused, and what was already read waits in order.
   */
  hold(): void {
    this.held ??= [];
    this.socket.pause();
  }

  /** Replays held messages in order, then reads on. */
  unhold(): void {
    const q = this.held;
    if (!q || this.phase === 'closed') return;
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
    if (this.phase === 'closed' || this.socket.destroyed) return;
    this.socket.write(this.writer.encode(m.header, m.payload));
  }

  sendControl(m: control.ControlMessage): void {
    this.send(m);
  }

  /** Our Set Chunk Size: announce it, then use it for everything after. */
  setOutChunkSize(size: number): void {
    this.send(control.setChunkSize(size));
    this.writer.chunkSize = size;
  }

  info(): SessionInfo {
    const c = this.commands;
    return {
      id: this.id,
      peer: this.peer,
      role: c.publishing ? 'publisher' : c.playing ? 'player' : 'none',
      streamKey: c.publishing?.stream.key ?? c.playing?.stream.key,
      since: this.since,
      bytesIn: this.socket.bytesRead,
      bytesOut: this.socket.bytesWritten,
      worker: this.ctx.workerId,
    };
  }

  /** Ends the session for a protocol or policy error. */
  fail(err: unknown): void {
    if (this.phase === 'closed') return;
    const code = errorCode(err);
    const counters = this.ctx.counters;
    counters.sessionErrors[code] = (counters.sessionErrors[code] ?? 0) + 1;
    if (this.phase === 'handshake') counters.handshakeFailures++;
    this.log.warn({ code, reason: describeError(err), streamKey: this.info().streamKey }, 'session ended by error');
    this.close(describeError(err), true);
  }

  /** Idempotent; cascades to the publish/play state and the socket. */
  close(reason: string, destroy = false): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.idleTimer);
    this.commands.teardown();
    this.ctx.sessions.delete(this.id);
    this.ctx.counters.bytesIn += this.socket.bytesRead;
    this.ctx.counters.bytesOut += this.socket.bytesWritten;
    this.log.info({ reason, bytesIn: this.socket.bytesRead, bytesOut: this.socket.bytesWritten }, 'session closed');
    if (destroy) this.socket.destroy();
    else this.socket.end();
    // A peer that never reads our FIN must not hold the socket for ever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}

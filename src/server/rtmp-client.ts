/**
 * An RTMP client over a net.Socket: handshake, chunk stream, protocol
 * control, NetConnection/NetStream commands, publishing and playing. The
 * behaviour tests drive the server with it; the load generator and the CDN
 * edge puller build on it.
 *
 *   const c = await RtmpClient.connect('rtmp://127.0.0.1:1935/live');
 *   await c.createStream();
 *   c.on('media', (m) => ...);
 *   await c.play('cam1');            // or: await c.publish('cam1'); c.sendMedia(9, ts, body)
 *   await c.close();
 *
 * Every wait has a timeout; a protocol error, a socket error or a throwing
 * listener ends this client only, rejecting whatever was waiting.
 */
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { ByteWriter } from '../core/bytes.js';
import { describeError, SluiceError, type ErrorCode } from '../core/errors.js';
import { ClientHandshake } from '../protocol/handshake.js';
import { ChunkReader, type ChunkSink } from '../protocol/chunk-reader.js';
import { ChunkWriter } from '../protocol/chunk-writer.js';
import * as control from '../protocol/control.js';
import { decodeCommand, type Command } from '../protocol/commands.js';
import { encodeAmf0 } from '../protocol/amf0.js';
import { amfObject, ecmaArray, type AmfObject, type AmfValue } from '../protocol/amf-types.js';
import { splitAggregate } from '../protocol/aggregate.js';
import { MessageType, type MessageHeader } from '../protocol/types.js';

/** Where an rtmp:// URL points: the whole path is the application name. */
export interface RtmpUrl {
  host: string;
  port: number;
  app: string;
  tcUrl: string;
}

/** "rtmp://host[:port]/app[/inst]" -> host, port (default 1935), app "app[/inst]", tcUrl. */
export function parseRtmpUrl(url: string): RtmpUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new SluiceError('ERR_CONFIG', `rtmp url ${JSON.stringify(url)}: not a URL`, { cause: err });
  }
  if (u.protocol !== 'rtmp:') throw new SluiceError('ERR_CONFIG', `rtmp url ${url}: scheme ${u.protocol} is not rtmp:`);
  const app = decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, '');
  if (!u.hostname || !app) throw new SluiceError('ERR_CONFIG', `rtmp url ${url}: needs a host and an application path`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { host, port: u.port ? Number(u.port) : 1935, app, tcUrl: `rtmp://${u.host}/${app}` };
}

export interface RtmpClientOptions {
  /** Bound on every wait: TCP connect, handshake, each command reply, each status (default 5000 ms). */
  timeoutMs?: number;
  /** Digest ("complex") handshake as ffmpeg and Flash send it (default true). */
  complexHandshake?: boolean;
  /** Our Set Chunk Size, sent before connect like ffmpeg (default 4096; 128 sends none). */
  chunkSize?: number;
  /** Send every command as AMF3 command messages (type 17, leading 0x00) with objectEncoding 3. */
  amf3?: boolean;
  /** objectEncoding in the connect object (default 3 with `amf3`, else 0). */
  objectEncoding?: 0 | 3;
  /** connect's flashVer (default FMLE-style, like ffmpeg when publishing). */
  flashVer?: string;
  /** Extra properties of the connect command object (type, swfUrl, pageUrl, ...). */
  connectObject?: Record<string, AmfValue>;
  /** Announce our own Window Acknowledgement Size: the server then acknowledges what we send. */
  windowAckSize?: number;
  /** SetBufferLength sent with play (default 1000 ms). */
  bufferLengthMs?: number;
  /** Largest message accepted from the server (default 16 MiB). */
  maxMessageSize?: number;
}

/** Audio (8), video (9) or a data message (18, 15), as received; `payload` is the client's own copy. */
export interface MediaMessage {
  type: number;
  timestamp: number;
  streamId: number;
  payload: Buffer;
}

/** An onStatus info object of NetStream/NetConnection. */
export interface StatusEvent {
  streamId: number;
  level: string;
  code: string;
  description: string;
  info: AmfObject;
}

/** A protocol control message from the server (RTMP spec 5.4). */
export interface ControlEvent {
  type: 'SetChunkSize' | 'Abort' | 'Acknowledgement' | 'WindowAckSize' | 'SetPeerBandwidth';
  value: number;
  /** Set Peer Bandwidth limit type. */
  limitType?: number;
}

/** The reply to a call: `_result` (ok) or `_error`. */
export interface CommandReply {
  ok: boolean;
  transactionId: number;
  object: AmfObject | null;
  args: AmfValue[];
}

export interface RtmpClientEvents {
  /** Every whole message, before any handling (aggregates unsplit). */
  message: [header: MessageHeader, payload: Buffer];
  media: [MediaMessage];
  status: [StatusEvent];
  /** Commands other than _result/_error/onStatus (onBWDone, onFCPublish, ...). */
  command: [Command & { streamId: number }];
  userControl: [control.UserControl];
  control: [ControlEvent];
  /** The client is closed; `error` says why when it was not close(). */
  close: [error: Error | undefined];
}

export interface ClientStats {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  mediaIn: number;
  acksSent: number;
  acksReceived: number;
  pingsAnswered: number;
}

/** A NetStream/NetConnection status of level "error" ended a wait. */
export class RtmpStatusError extends SluiceError {
  constructor(
    what: string,
    readonly status: StatusEvent,
  ) {
    super('ERR_STREAM', `${what}: ${status.code}: ${status.description}`);
    this.name = 'RtmpStatusError';
  }
}

/** Commands a NetConnection sends on message stream 0; all others go on the client's stream. */
const CONNECTION_COMMANDS = new Set([
  'connect', 'createStream', 'deleteStream', 'releaseStream', 'FCPublish', 'FCUnpublish',
  'FCSubscribe', 'FCUnsubscribe', 'getStreamLength', '_checkbw',
]);

/** Our chunk streams (ffmpeg's layout): control 2, NetConnection 3, audio 4, data 5, video 6, NetStream 8. */
const CSID = { control: 2, connection: 3, audio: 4, data: 5, video: 6, stream: 8 } as const;

type Phase = 'connecting' | 'handshake' | 'chunks' | 'closed';

interface Waiter {
  fail(err: Error): void;
}

const AMF3_FORMAT = Buffer.from([0]);

/** One FLV tag of an aggregate message: its timestamp is absolute, as in the FLV file. */
export interface AggregateTag {
  type: number;
  timestamp: number;
  payload: Uint8Array;
}

/**
 * Body of an aggregate message (RTMP spec 7.1.6; protocol/aggregate.ts splits them): FLV tags back to back,
 * each `type u8 | size u24 | ts u24 | ts-ext u8 | stream id u24 | body | back pointer u32`.
 */
export function buildAggregate(tags: readonly AggregateTag[]): Buffer {
  const w = new ByteWriter(tags.reduce((n, t) => n + 15 + t.payload.length, 0));
  for (const t of tags) {
    const ts = t.timestamp >>> 0;
    w.u8(t.type).u24be(t.payload.length).u24be(ts & 0xffffff).u8(ts >>> 24).u24be(0);
    w.bytes(t.payload).u32be(11 + t.payload.length);
  }
  return w.toBuffer();
}

export class RtmpClient extends EventEmitter<RtmpClientEvents> {
  readonly url: RtmpUrl;
  readonly socket: net.Socket;
  readonly stats: ClientStats = { bytesIn: 0, bytesOut: 0, messagesIn: 0, mediaIn: 0, acksSent: 0, acksReceived: 0, pingsAnswered: 0 };
  /** Message stream id from the last createStream (0 before). */
  streamId = 0;
  /** The info object of connect's _result (objectEncoding, code, ...). */
  connectInfo: AmfObject | null = null;
  /** Window Acknowledgement Size the server announced (0: none yet). */
  serverWindowAckSize = 0;
  private phase: Phase = 'connecting';
  private readonly opts: Required<Omit<RtmpClientOptions, 'windowAckSize' | 'objectEncoding'>> & RtmpClientOptions;
  private readonly handshake: ClientHandshake;
  private readonly reader: ChunkReader;
  private readonly writer = new ChunkWriter(128);
  private nextTxn = 1;
  private readonly txns = new Map<number, { done(r: CommandReply): void }>();
  private readonly waiters = new Set<Waiter>();
  private received = 0;
  private lastAck = 0;
  private closeError: Error | undefined;
  private readonly closed: Promise<void>;

  private constructor(url: RtmpUrl, opts: RtmpClientOptions) {
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
      ...opts,
    };
    this.handshake = new ClientHandshake({ complex: this.opts.complexHandshake });
    this.reader = new ChunkReader(this.sink, {
      // The server picks its chunk size; nothing is allocated per chunk, so accept up to the 24-bit length.
      maxChunkSize: 0xffffff,
      maxMessageSize: this.opts.maxMessageSize,
      maxChunkStreams: 64,
    });
    this.socket = net.connect({ host: url.host, port: url.port, noDelay: true });
    this.socket.setNoDelay(true);
    this.socket.on('data', this.onData);
    this.socket.on('error', (err) => this.fail(new SluiceError('ERR_PROTOCOL', 'socket error', { cause: err })));
    this.closed = new Promise((resolve) => {
      this.socket.once('close', () => {
        this.shutdown(this.phase === 'closed' ? undefined : new SluiceError('ERR_PROTOCOL', 'connection closed by the server'));
        resolve();
      });
    });
  }

  /** TCP connect, handshake, Set Chunk Size, `connect`; resolves once the server's _result is in. */
  static async connect(url: string, opts: RtmpClientOptions = {}): Promise<RtmpClient> {
    const c = new RtmpClient(parseRtmpUrl(url), opts);
    try {
      await c.open();
    } catch (err) {
      c.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    return c;
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
    return this.reader.getChunkSize();
  }

  /** Bytes queued in our socket and not yet sent (for publishers that honour backpressure). */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  private async open(): Promise<void> {
    const what = `connect ${this.url.tcUrl}`;
    await this.wait<void>(`${what}: tcp`, (done) => {
      this.socket.once('connect', done);
      return () => this.socket.off('connect', done);
    });
    this.phase = 'handshake';
    await this.wait<void>(`${what}: handshake`, (done) => {
      this.onHandshakeDone = done;
      this.write(this.handshake.start());
      return () => (this.onHandshakeDone = undefined);
    });
    if (this.opts.chunkSize !== 128) {
      this.sendControl(control.setChunkSize(this.opts.chunkSize));
      this.writer.chunkSize = this.opts.chunkSize;
    }
    if (this.opts.windowAckSize) this.sendControl(control.windowAckSize(this.opts.windowAckSize));
    const amf3 = this.opts.amf3;
    const obj = amfObject({
      app: this.url.app,
      type: 'nonprivate',
      flashVer: this.opts.flashVer,
      tcUrl: this.url.tcUrl,
      fpad: false,
      capabilities: 15,
      audioCodecs: 4071,
      videoCodecs: 252,
      videoFunction: 1,
      objectEncoding: this.opts.objectEncoding ?? (amf3 ? 3 : 0),
      ...this.opts.connectObject,
    });
    const reply = await this.transact('connect', obj, []);
    const info = asObject(reply.args[0]);
    if (!reply.ok) {
      throw new RtmpStatusError(what, toStatus(0, info));
    }
    this.connectInfo = info;
  }

  // ---- commands ---------------------------------------------------------------

  /** NetConnection.call: sends `name` with a transaction id on stream 0 and returns its _result/_error. */
  call(name: string, ...args: AmfValue[]): Promise<CommandReply> {
    return this.transact(name, null, args);
  }

  /** A command without a transaction (pause, seek, receiveVideo, FCUnpublish, deleteStream...). */
  command(name: string, ...args: AmfValue[]): void {
    const streamId = CONNECTION_COMMANDS.has(name) ? 0 : this.streamId;
    this.sendCommand(streamId, name, 0, null, args);
  }

  /** createStream: the new message stream id becomes this client's stream. */
  async createStream(): Promise<number> {
    const reply = await this.call('createStream');
    const id = reply.args[0];
    if (!reply.ok || typeof id !== 'number') {
      const info = asObject(reply.args[0]);
      throw new SluiceError('ERR_COMMAND', `createStream: ${reply.ok ? `no stream id in _result` : `${String(info.code)}: ${String(info.description)}`}`);
    }
    this.streamId = id;
    return id;
  }

  /** play: resolves on NetStream.Play.Start; rejects with the code of an error status (Play.StreamNotFound...). */
  async play(name: string, opts: { start?: number; reset?: boolean } = {}): Promise<StatusEvent> {
    const streamId = await this.ensureStream();
    const started = this.waitStatus(`play ${name}`, streamId, 'NetStream.Play.Start');
    const args: AmfValue[] = [name, opts.start ?? -2000];
    if (opts.reset !== undefined) args.push(-1, opts.reset);
    this.sendCommand(streamId, 'play', 0, null, args);
    this.sendControl(control.setBufferLength(streamId, this.opts.bufferLengthMs));
    return started;
  }

  /** publish: resolves on NetStream.Publish.Start; rejects with the code of an error status (Publish.BadName...). */
  async publish(name: string, type: 'live' | 'record' | 'append' = 'live'): Promise<StatusEvent> {
    const streamId = await this.ensureStream();
    const started = this.waitStatus(`publish ${name}`, streamId, 'NetStream.Publish.Start');
    this.sendCommand(streamId, 'publish', 0, null, [name, type]);
    return started;
  }

  private async ensureStream(): Promise<number> {
    return this.streamId !== 0 ? this.streamId : this.createStream();
  }

  /** Resolves with the next status of `code` on `streamId`; rejects on an error-level status there. */
  waitStatus(what: string, streamId: number, code: string, timeoutMs = this.opts.timeoutMs): Promise<StatusEvent> {
    return this.wait<StatusEvent>(
      what,
      (done, fail) => {
        const on = (s: StatusEvent): void => {
          if (s.streamId !== streamId) return;
          if (s.code === code) done(s);
          else if (s.level === 'error') fail(new RtmpStatusError(what, s));
        };
        this.on('status', on);
        return () => this.off('status', on);
      },
      timeoutMs,
    );
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

  // ---- publishing -------------------------------------------------------------

  /**
   * One audio (8), video (9), data (18/15) or aggregate (22) message on our
   * stream. Returns false when the socket is backed up (wait for its
   * 'drain') or the client is closed (nothing sent).
   */
  sendMedia(type: 8 | 9 | 15 | 18 | 22, timestamp: number, payload: Uint8Array, streamId = this.streamId): boolean {
    const csid = type === MessageType.Audio ? CSID.audio : type === MessageType.Video || type === MessageType.Aggregate ? CSID.video : CSID.data;
    return this.send({ csid, type, timestamp: timestamp >>> 0, length: payload.length, streamId }, payload);
  }

  /** An aggregate message of `tags` (timestamps absolute; the message carries the first one's). */
  sendAggregate(tags: readonly AggregateTag[], timestamp = tags[0]?.timestamp ?? 0): boolean {
    return this.sendMedia(MessageType.Aggregate, timestamp, buildAggregate(tags));
  }

  /**
   * `@setDataFrame onMetaData {…}` as encoders send it (the ECMA array ffmpeg
   * writes). Returns the payload sent; what follows its first 16 bytes
   * (the "@setDataFrame" string) is what players should receive.
   */
  setDataFrame(metadata: Record<string, AmfValue>, timestamp = 0): Buffer {
    const payload = encodeAmf0(['@setDataFrame', 'onMetaData', ecmaArray(metadata)]);
    this.sendMedia(MessageType.DataAmf0, timestamp, payload);
    return payload;
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

  /** Marks the client closed once: every wait rejects, `close` is emitted. */
  private shutdown(err: Error | undefined): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.closeError = err;
    const reason = new SluiceError(errorCodeOf(err), `rtmp client ${this.url.tcUrl} closed${err ? `: ${describeError(err)}` : ''}`, { cause: err });
    for (const w of [...this.waiters]) w.fail(reason);
    this.txns.clear();
    this.safeEmit('close', err);
  }

  private fail(err: Error): void {
    if (this.phase === 'closed') return;
    this.destroy(err);
  }

  // ---- internals ----------------------------------------------------------------

  /** A bounded wait: `setup` arms it and returns its cleanup; timeout or close rejects it. */
  private wait<T>(
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

  private transact(name: string, object: AmfObject | null, args: AmfValue[]): Promise<CommandReply> {
    const txn = this.nextTxn++;
    const p = this.wait<CommandReply>(`${name} (transaction ${txn})`, (done) => {
      this.txns.set(txn, { done });
      return () => this.txns.delete(txn);
    });
    this.sendCommand(0, name, txn, object, args);
    return p;
  }

  private sendCommand(streamId: number, name: string, txn: number, object: AmfObject | null, args: AmfValue[]): void {
    const amf0 = encodeAmf0([name, txn, object, ...args]);
    const amf3 = this.opts.amf3;
    const payload = amf3 ? Buffer.concat([AMF3_FORMAT, amf0]) : amf0;
    this.send(
      {
        csid: streamId === 0 ? CSID.connection : CSID.stream,
        type: amf3 ? MessageType.CommandAmf3 : MessageType.CommandAmf0,
        timestamp: 0,
        length: payload.length,
        streamId,
      },
      payload,
    );
  }

  private sendControl(m: control.ControlMessage): void {
    this.send(m.header, m.payload);
  }

  private send(h: MessageHeader, payload: Uint8Array): boolean {
    if (this.phase !== 'chunks') return false;
    return this.write(this.writer.encode(h, payload));
  }

  private write(b: Buffer): boolean {
    if (this.socket.destroyed) return false;
    this.stats.bytesOut += b.length;
    return this.socket.write(b);
  }

  private onHandshakeDone: (() => void) | undefined;

  private readonly onData = (buf: Buffer): void => {
    if (this.phase === 'closed') return;
    this.stats.bytesIn += buf.length;
    try {
      if (this.phase === 'handshake') {
        const r = this.handshake.push(buf);
        for (const b of r.send) this.write(b);
        if (!r.done) return;
        this.phase = 'chunks';
        this.onHandshakeDone?.();
        if (r.rest.length === 0) return;
        buf = Buffer.from(r.rest.buffer, r.rest.byteOffset, r.rest.length);
      } else if (this.phase !== 'chunks') {
        throw new SluiceError('ERR_PROTOCOL', `${buf.length} bytes before the handshake started`);
      }
      this.received += buf.length;
      this.reader.push(buf);
      // Acknowledge every window the server asked for (RTMP spec 5.4.3).
      const win = this.serverWindowAckSize;
      if (win > 0 && this.received - this.lastAck >= win && this.phase === 'chunks') {
        this.lastAck = this.received;
        this.stats.acksSent++;
        this.sendControl(control.acknowledgement(this.received % 0x100000000));
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  };

  private readonly sink: ChunkSink = {
    // Each message gets its own buffer: the payload handed to listeners is theirs to keep.
    begin: (h: MessageHeader): Uint8Array => Buffer.allocUnsafe(h.length),
    message: (h: MessageHeader, payload: Uint8Array): void => this.dispatch(h, payload as Buffer),
    abandon: (): void => undefined,
  };

  private dispatch(h: MessageHeader, payload: Buffer): void {
    if (this.phase === 'closed') return;
    this.stats.messagesIn++;
    if (this.listenerCount('message') > 0) this.safeEmit('message', h, payload);
    switch (h.type) {
      case MessageType.SetChunkSize: {
        const size = control.decodeU32Control(payload, 'set chunk size') & 0x7fffffff;
        this.reader.setChunkSize(size);
        this.safeEmit('control', { type: 'SetChunkSize', value: size });
        return;
      }
      case MessageType.Abort: {
        const csid = control.decodeU32Control(payload, 'abort csid');
        this.reader.abort(csid);
        this.safeEmit('control', { type: 'Abort', value: csid });
        return;
      }
      case MessageType.Acknowledgement:
        this.stats.acksReceived++;
        this.safeEmit('control', { type: 'Acknowledgement', value: control.decodeU32Control(payload, 'acknowledgement') });
        return;
      case MessageType.WindowAckSize:
        this.serverWindowAckSize = control.decodeU32Control(payload, 'window ack size');
        this.safeEmit('control', { type: 'WindowAckSize', value: this.serverWindowAckSize });
        return;
      case MessageType.SetPeerBandwidth: {
        const bw = control.decodePeerBandwidth(payload);
        this.safeEmit('control', { type: 'SetPeerBandwidth', value: bw.size, limitType: bw.limitType });
        return;
      }
      case MessageType.UserControl: {
        const uc = control.decodeUserControl(payload);
        if (uc.event === 'PingRequest') {
          this.stats.pingsAnswered++;
          this.sendControl(control.pingResponse(uc.time));
        }
        this.safeEmit('userControl', uc);
        return;
      }
      case MessageType.Audio:
      case MessageType.Video:
      case MessageType.DataAmf0:
      case MessageType.DataAmf3:
        this.stats.mediaIn++;
        this.safeEmit('media', { type: h.type, timestamp: h.timestamp, streamId: h.streamId, payload });
        return;
      case MessageType.Aggregate:
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

  private onCommand(h: MessageHeader, cmd: Command): void {
    if (cmd.name === '_result' || cmd.name === '_error') {
      const t = this.txns.get(cmd.transactionId);
      if (t) {
        this.txns.delete(cmd.transactionId);
        t.done({ ok: cmd.name === '_result', transactionId: cmd.transactionId, object: cmd.object, args: cmd.args });
      }
      return;
    }
    if (cmd.name === 'onStatus') {
      // Info object after a null command object; some servers put it in the object slot.
      const info = asObject(cmd.args[0] ?? cmd.object);
      this.safeEmit('status', toStatus(h.streamId, info));
      return;
    }
    this.safeEmit('command', { ...cmd, streamId: h.streamId });
  }

  /** A throwing listener ends this client (with that error), never the parser state or the process. */
  private safeEmit<K extends keyof RtmpClientEvents>(event: K, ...args: RtmpClientEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: RtmpClientEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      if (event === 'close') return;
      this.fail(new SluiceError('ERR_INTERNAL', `a '${event}' listener threw`, { cause: err }));
    }
  }
}

function asObject(v: AmfValue): AmfObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date)
    ? (v as AmfObject)
    : amfObject();
}

function toStatus(streamId: number, info: AmfObject): StatusEvent {
  return {
    streamId,
    level: String(info.level ?? ''),
    code: String(info.code ?? ''),
    description: String(info.description ?? ''),
    info,
  };
}

function errorCodeOf(err: Error | undefined): ErrorCode {
  return err instanceof SluiceError ? err.code : 'ERR_PROTOCOL';
}

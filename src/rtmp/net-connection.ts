/**
 * The NetConnection commands of one RTMP session as real encoders (ffmpeg,
 * OBS, hardware boxes) and players send them: connect, createStream,
 * releaseStream, FCPublish/FCUnpublish/FCSubscribe, getStreamLength, and
 * `_error` for calls sluice does not know. NetStream commands go on to
 * net-stream.ts.
 */
import { SluiceError } from '../core/errors.js';
import * as control from '../protocol/control.js';
import { CapsEx, capsExOf, connectResult, errorMessage, onFc, resultMessage, type Command } from '../protocol/commands.js';
import type { MessageHeader } from '../protocol/types.js';
import { cleanName, queryOf } from '../app/stream-name.js';
import { clientId } from '../app/client-id.js';
import type { AmfValue } from '../protocol/amf-types.js';
import { AccessRefused, type AccessClient } from '../access/policy.js';
import { NetStream } from './net-stream.js';
import type { RtmpSessionIO } from './types.js';

/** Replies sluice receives as a peer and has nothing to do with. */
const IGNORED = new Set(['_result', '_error', 'onStatus', '_checkbw', 'onBWDone']);
/** tcUrl and pageUrl as hooks see them are cut here. */
const MAX_URL = 4096;

export class NetConnection {
  /** The application of `connect` (undefined before it). */
  app: string | undefined;
  objectEncoding = 0;
  /** The client's SetBufferLength (User Control 3), in ms. */
  bufferLengthMs = 0;
  /** E-RTMP v2 capabilities the client announced in connect (CapsEx bits; 0 for a legacy client). */
  capsEx = 0;
  readonly stream: NetStream;
  /** Message stream ids createStream handed out and deleteStream has not closed. */
  private readonly openStreams = new Set<number>();

  constructor(private readonly s: RtmpSessionIO) {
    this.stream = new NetStream(s, (id) => this.openStreams.has(id), () => this.client);
  }

  /** The tcUrl the client connected with ('' before connect or when it sent none). */
  get tcUrl(): string {
    return this.client.tcUrl;
  }

  /** Who this session is, for access control; tcUrl and pageUrl come with connect. */
  private client: AccessClient = { ip: '', transport: 'rtmp', clientId: '', tcUrl: '' };

  onCommand(h: MessageHeader, cmd: Command): void {
    const s = this.s;
    s.log.debug({ command: cmd.name, txn: cmd.transactionId, streamId: h.streamId }, 'command');
    if (cmd.name === 'connect') return this.connect(cmd);
    if (this.app === undefined && !cmd.name.startsWith('_')) throw new SluiceError('ERR_COMMAND', `${cmd.name} before connect`);
    if (cmd.name === 'deleteStream' && typeof cmd.args[0] === 'number') this.openStreams.delete(cmd.args[0]);
    if (this.app !== undefined && this.stream.onCommand(h, cmd, this.app)) return;
    switch (cmd.name) {
      case 'releaseStream':
      case 'FCPublish':
        if (cmd.name === 'FCPublish') s.send(onFc('onFCPublish', 'NetStream.Publish.Start', `FCPublish to ${String(cmd.args[0])}.`));
        if (cmd.transactionId) s.send(resultMessage(cmd.transactionId, null, undefined));
        return;
      case 'FCUnpublish':
        s.send(onFc('onFCUnpublish', 'NetStream.Unpublish.Success', `FCUnpublish ${String(cmd.args[0])}.`));
        if (cmd.transactionId) s.send(resultMessage(cmd.transactionId, null, undefined));
        this.stream.stopPublishing();
        return;
      case 'FCSubscribe':
        s.send(onFc('onFCSubscribe', 'NetStream.Play.Start', `FCSubscribe to ${String(cmd.args[0])}.`));
        return;
      case 'createStream':
        return this.createStream(cmd.transactionId);
      case 'getStreamLength':
        // Live streams have no length.
        s.send(resultMessage(cmd.transactionId, null, 0));
        return;
      default:
        if (IGNORED.has(cmd.name)) return;
        // An unknown call is the client's business; answer it, keep the session.
        if (cmd.transactionId) {
          s.send(errorMessage(cmd.transactionId, 'NetConnection.Call.Failed', `Method not found (${cmd.name}).`));
        }
    }
  }

  /**
   * The lowest free id, so a client that creates and deletes streams in a
   * loop keeps getting 1 (ids bound what egress forms, and so caches, exist).
   */
  private createStream(txn: number): void {
    const max = this.s.ctx.config.rtmp.maxMessageStreams;
    if (this.openStreams.size >= max) {
      this.s.send(errorMessage(txn, 'NetConnection.Call.Failed', `createStream: ${max} message streams already open (rtmp.maxMessageStreams).`));
      return;
    }
    let id = 1;
    while (this.openStreams.has(id)) id++;
    this.openStreams.add(id);
    this.s.send(resultMessage(txn, null, id));
  }

  /** Access control (on_connect) decides first, with the session held; then the reply. */
  private connect(cmd: Command): void {
    const s = this.s;
    if (this.app !== undefined || this.connecting) throw new SluiceError('ERR_COMMAND', 'connect: already connected');
    const obj = cmd.object;
    if (!obj) throw new SluiceError('ERR_COMMAND', 'connect: missing command object');
    const app = cleanName(obj.app, 'connect app');
    const text = (v: AmfValue | undefined) => (typeof v === 'string' ? v.slice(0, MAX_URL) : '');
    const tcUrl = text(obj.tcUrl);
    this.client = { ip: s.socket.remoteAddress ?? '', transport: 'rtmp', clientId: clientId(s.ctx.workerId, 'rtmp', s.id), tcUrl, pageUrl: text(obj.pageUrl) };
    this.connecting = true;
    s.hold();
    s.ctx.streams.connect(app, queryOf(tcUrl), this.client).then(
      () => {
        if (s.closed) return;
        this.accept(cmd, app);
        s.unhold();
      },
      (err: unknown) => {
        if (s.closed) return;
        if (!(err instanceof AccessRefused)) return s.fail(err);
        s.send(errorMessage(cmd.transactionId, 'NetConnection.Connect.Rejected', `Connect.Rejected: ${err.message}.`));
        s.log.warn({ code: err.code, reason: err.message, app }, 'connect refused');
        setImmediate(() => s.close('connect refused'));
      },
    );
  }

  private connecting = false;

  private accept(cmd: Command, app: string): void {
    const s = this.s;
    const obj = cmd.object!;
    this.app = app;
    this.objectEncoding = obj.objectEncoding === 3 ? 3 : 0;
    this.capsEx = capsExOf(obj);
    const cfg = s.ctx.config.rtmp;
    s.send(control.windowAckSize(cfg.windowAckSize));
    // Limit type 2: dynamic (RTMP spec 5.4.5).
    s.send(control.setPeerBandwidth(cfg.peerBandwidth, 2));
    s.setOutChunkSize(cfg.outChunkSize);
    s.send(connectResult(cmd.transactionId, this.objectEncoding, s.ctx.version, this.reconnectable ? CapsEx.Reconnect : 0));
    s.log.info({ app: this.app, tcUrl: obj.tcUrl, flashVer: obj.flashVer, ...(this.capsEx ? { capsEx: this.capsEx } : {}) }, 'connected');
  }

  /**
   * Whether a drain may ask this client to reconnect elsewhere: it announced
   * CapsEx.Reconnect and cluster.reconnectRequest is on. Then, and only then,
   * _result says so too (a legacy client's reply stays byte for byte).
   */
  get reconnectable(): boolean {
    return (this.capsEx & CapsEx.Reconnect) !== 0 && this.s.ctx.config.cluster.reconnectRequest;
  }

  /** Session end: leave the stream as a publisher or player. */
  teardown(): void {
    this.stream.teardown();
  }
}

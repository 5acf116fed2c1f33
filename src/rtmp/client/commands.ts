/**
 * The NetConnection layer of RtmpClient: commands out, with a transaction
 * id when a reply is wanted; `_result`/`_error` matched back to their call;
 * onStatus turned into `status` events that waits can watch.
 */
import { SluiceError } from '../../core/errors.js';
import { capsExOf, readReconnectRequest, type Command } from '../../protocol/commands.js';
import { encodeAmf0 } from '../../protocol/amf0.js';
import { amfObject, type AmfObject, type AmfValue } from '../../protocol/amf-types.js';
import { MessageType, type MessageHeader } from '../../protocol/types.js';
import { resolveTcUrl } from '../url.js';
import { CSID, RtmpClientConnection } from './connection.js';
import { RtmpStatusError, type CommandReply, type StatusEvent } from './types.js';

/** Commands a NetConnection sends on message stream 0; all others go on the client's stream. */
const CONNECTION_COMMANDS = new Set([
  'connect', 'createStream', 'deleteStream', 'releaseStream', 'FCPublish', 'FCUnpublish',
  'FCSubscribe', 'FCUnsubscribe', 'getStreamLength', '_checkbw',
]);

/** An AMF3 command message is an AMF0 one after this format byte (RTMP spec 7.1.1). */
const AMF3_FORMAT = Buffer.from([0]);

export abstract class RtmpCommandConnection extends RtmpClientConnection {
  /** Message stream id from the last createStream (0 before). */
  streamId = 0;
  /** The info object of connect's _result (objectEncoding, code, ...). */
  connectInfo: AmfObject | null = null;
  /** E-RTMP v2 capsEx the server stated in connect's _result properties (0: none, a legacy server). */
  serverCapsEx = 0;
  private nextTxn = 1;
  private readonly txns = new Map<number, { done(r: CommandReply): void }>();

  /** The transport, then `connect`; resolves once the server's _result is in. */
  protected async open(): Promise<void> {
    const what = `connect ${this.url.tcUrl}`;
    await this.openTransport(what);
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
      ...(this.opts.capsEx !== undefined ? { capsEx: this.opts.capsEx } : {}),
      ...this.opts.connectObject,
    });
    const reply = await this.transact('connect', obj, []);
    const info = asObject(reply.args[0]);
    if (!reply.ok) {
      throw new RtmpStatusError(what, toStatus(0, info));
    }
    this.connectInfo = info;
    this.serverCapsEx = capsExOf(reply.object);
  }

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

  /** A command on `streamId`: NetConnection's chunk stream for stream 0, NetStream's for the others. */
  protected sendCommand(streamId: number, name: string, txn: number, object: AmfObject | null, args: AmfValue[]): void {
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

  protected onCommand(h: MessageHeader, cmd: Command): void {
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
      const status = toStatus(h.streamId, info);
      this.safeEmit('status', status);
      // A NetConnection status: it concerns the connection, so it comes on stream 0.
      const reconnect = h.streamId === 0 ? readReconnectRequest(info) : undefined;
      if (reconnect && !this.isClosed) this.safeEmit('reconnectRequest', { tcUrl: resolveTcUrl(reconnect.tcUrl, this.url.tcUrl), description: reconnect.description, status });
      return;
    }
    this.safeEmit('command', { ...cmd, streamId: h.streamId });
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

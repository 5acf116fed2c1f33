/**
 * NetConnection and NetStream commands of one RTMP session, as real
 * encoders (ffmpeg, OBS, hardware boxes) and players send them, and the
 * publishing side of the session (media into the stream's ring).
 */
import { SluiceError, wrapError } from '../core/errors.js';
import * as control from '../protocol/control.js';
import {
  connectResult,
  decodeData,
  errorMessage,
  onFc,
  onStatus,
  resultMessage,
  unwrapSetDataFrame,
  type Command,
} from '../protocol/commands.js';
import { MessageType, type MessageHeader } from '../protocol/types.js';
import { splitAggregate } from '../protocol/aggregate.js';
import type { LiveStream } from '../media/live-stream.js';
import type { AmfValue } from '../protocol/amf-types.js';
import { RtmpPlayer } from './rtmp-player.js';
import type { RtmpSession } from './rtmp-session.js';

const MAX_NAME = 512;

/** "cam1?token=x" -> "cam1"; names must be printable and bounded. */
export function cleanName(raw: AmfValue, what: string): string {
  if (typeof raw !== 'string') throw new SluiceError('ERR_COMMAND', `${what}: expected a string`);
  const name = raw.split('?')[0]!.replace(/^\/+|\/+$/g, '');
  if (name.length === 0 || name.length > MAX_NAME || /[\x00-\x1f\x7f]/.test(name)) {
    throw new SluiceError('ERR_COMMAND', `${what}: invalid name ${JSON.stringify(raw.slice(0, 64))}`);
  }
  return name;
}

export class CommandHandler {
  app: string | undefined;
  objectEncoding = 0;
  bufferLengthMs = 0;
  publishing: { stream: LiveStream; streamId: number } | null = null;
  playing: RtmpPlayer | null = null;
  private nextStreamId = 1;
  /** A publish/play is waiting for the directory. */
  private pending = false;

  constructor(private readonly s: RtmpSession) {}

  onCommand(h: MessageHeader, cmd: Command): void {
    const s = this.s;
    s.log.debug({ command: cmd.name, txn: cmd.transactionId, streamId: h.streamId }, 'command');
    if (cmd.name !== 'connect' && this.app === undefined && !cmd.name.startsWith('_')) {
      throw new SluiceError('ERR_COMMAND', `${cmd.name} before connect`);
    }
    switch (cmd.name) {
      case 'connect':
        return this.connect(cmd);
      case 'releaseStream':
      case 'FCPublish':
        if (cmd.name === 'FCPublish') s.send(onFc('onFCPublish', 'NetStream.Publish.Start', `FCPublish to ${String(cmd.args[0])}.`));
        if (cmd.transactionId) s.send(resultMessage(cmd.transactionId, null, undefined));
        return;
      case 'FCUnpublish':
        s.send(onFc('onFCUnpublish', 'NetStream.Unpublish.Success', `FCUnpublish ${String(cmd.args[0])}.`));
        if (cmd.transactionId) s.send(resultMessage(cmd.transactionId, null, undefined));
        this.stopPublishing();
        return;
      case 'FCSubscribe':
        s.send(onFc('onFCSubscribe', 'NetStream.Play.Start', `FCSubscribe to ${String(cmd.args[0])}.`));
        return;
      case 'createStream':
        s.send(resultMessage(cmd.transactionId, null, this.nextStreamId++));
        return;
      case 'publish':
        return this.publish(h, cmd);
      case 'play':
        return this.play(h.streamId, cmd.args[0], cmd.args[3] !== false);
      case 'play2': {
        const params = cmd.args[0] as Record<string, AmfValue> | undefined;
        this.stopPlaying();
        return this.play(h.streamId, params?.streamName, true);
      }
      case 'deleteStream':
      case 'closeStream':
        this.stopPublishing();
        this.stopPlaying();
        return;
      case 'pause':
        return this.pause(h.streamId, cmd.args[0] === true);
      case 'seek':
        // Live has no past to seek into: answer as FMS does for live, and go to the live edge.
        this.playing?.sub.rewindToLive();
        s.send(onStatus(h.streamId, 'status', 'NetStream.Seek.Notify', 'Seeking a live stream resumes at the live edge.'));
        this.playing?.sub.pump();
        return;
      case 'receiveAudio':
      case 'receiveVideo':
        if (this.playing) this.playing.sub[cmd.name] = cmd.args[0] !== false;
        return;
      case 'getStreamLength':
        // Live streams have no length.
        s.send(resultMessage(cmd.transactionId, null, 0));
        return;
      case '_result':
      case '_error':
      case 'onStatus':
      case '_checkbw':
      case 'onBWDone':
        return;
      default:
        // An unknown call is the client's business; answer it, keep the session.
        if (cmd.transactionId) {
          s.send(errorMessage(cmd.transactionId, 'NetConnection.Call.Failed', `Method not found (${cmd.name}).`));
        }
    }
  }

  private connect(cmd: Command): void {
    const s = this.s;
    if (this.app !== undefined) throw new SluiceError('ERR_COMMAND', 'connect: already connected');
    const obj = cmd.object;
    if (!obj) throw new SluiceError('ERR_COMMAND', 'connect: missing command object');
    this.app = cleanName(obj.app, 'connect app');
    this.objectEncoding = obj.objectEncoding === 3 ? 3 : 0;
    const cfg = s.ctx.config.rtmp;
    s.send(control.windowAckSize(cfg.windowAckSize));
    s.send(control.setPeerBandwidth(cfg.peerBandwidth, 2));
    s.setOutChunkSize(cfg.outChunkSize);
    s.send(connectResult(cmd.transactionId, this.objectEncoding, s.ctx.version));
    s.log.info({ app: this.app, tcUrl: obj.tcUrl, flashVer: obj.flashVer }, 'connected');
  }

  private publish(h: MessageHeader, cmd: Command): void {
    const s = this.s;
    const name = cleanName(cmd.args[0], 'publish name');
    if (this.publishing || this.playing || this.pending) throw new SluiceError('ERR_COMMAND', 'publish: session already publishing or playing');
    const key = `${this.app}/${name}`;
    this.ask(
      () => s.ctx.hub.publish(this.app!, name, s.id),
      (stream) => {
        this.publishing = { stream, streamId: h.streamId };
        s.ctx.counters.publishesTotal++;
        s.send(onStatus(h.streamId, 'status', 'NetStream.Publish.Start', `${key} is now published.`, name));
        s.log.info({ streamKey: key, type: cmd.args[1] }, 'publishing');
      },
      (stream) => s.ctx.hub.unpublish(stream, s.id),
      (err) => {
        if (!(err instanceof SluiceError && err.code === 'ERR_STREAM')) return false;
        s.send(onStatus(h.streamId, 'error', 'NetStream.Publish.BadName', `NetStream.Publish.BadName: ${key} is already being published.`, name));
        s.log.warn({ streamKey: key, code: 'ERR_STREAM', reason: err.message }, 'publish refused');
        // The client has been told; end only this connection, after the status is flushed.
        setImmediate(() => s.close('publish refused: BadName'));
        return true;
      },
    );
  }

  private play(streamId: number, rawName: AmfValue, reset: boolean): void {
    const s = this.s;
    const name = cleanName(rawName, 'play name');
    if (this.publishing || this.playing || this.pending) throw new SluiceError('ERR_COMMAND', 'play: session already publishing or playing');
    this.ask(
      () => s.ctx.hub.play(this.app!, name),
      (stream) => {
        if (!stream) {
          s.send(onStatus(streamId, 'error', 'NetStream.Play.StreamNotFound', `${this.app}/${name} not found.`, name));
          return;
        }
        s.stopIdleTimer();
        s.ctx.counters.playsTotal++;
        this.playing = new RtmpPlayer(s, stream, streamId, reset);
        s.log.info({ streamKey: stream.key, live: stream.live }, 'playing');
      },
      (stream) => stream && s.ctx.hub.subscriberLeft(stream),
    );
  }

  /**
   * Runs a directory request with the session held (nothing else is
   * dispatched meanwhile), then applies its result, unless the session
   * ended in between, in which case `undo` gives back what was granted.
   */
  private ask<T>(request: () => Promise<T>, apply: (v: T) => void, undo: (v: T) => void, refused?: (err: unknown) => boolean): void {
    const s = this.s;
    this.pending = true;
    s.hold();
    request().then(
      (v) => {
        this.pending = false;
        if (s.closed) return undo(v);
        try {
          apply(v);
        } catch (err) {
          return s.fail(err);
        }
        s.unhold();
      },
      (err) => {
        this.pending = false;
        if (s.closed) return;
        if (refused?.(err)) return;
        s.fail(err);
      },
    );
  }

  private pause(streamId: number, pause: boolean): void {
    const p = this.playing;
    if (!p) return;
    p.sub.paused = pause;
    if (pause) {
      this.s.send(onStatus(streamId, 'status', 'NetStream.Pause.Notify', `Paused ${p.stream.name}.`));
    } else {
      // Live resumes at the live edge (from the latest keyframe), not where it paused.
      p.sub.rewindToLive();
      this.s.send(onStatus(streamId, 'status', 'NetStream.Unpause.Notify', `Unpaused ${p.stream.name}.`));
      p.sub.pump();
    }
  }

  // ---- publishing ------------------------------------------------------------

  onMedia(h: MessageHeader, payload: Uint8Array): void {
    const p = this.publishing;
    if (!p) throw new SluiceError('ERR_PROTOCOL', `media message (type ${h.type}) from a session that is not publishing`);
    try {
      p.stream.commitMedia(h.type, h.timestamp, payload);
    } catch (err) {
      throw wrapError(`publish ${p.stream.key}`, err);
    }
  }

  onData(h: MessageHeader, payload: Uint8Array): void {
    const p = this.publishing;
    if (!p) return; // players may send data messages; nothing to do with them
    const body = unwrapSetDataFrame(h.type === MessageType.DataAmf3 && payload[0] === 0 ? payload.subarray(1) : payload);
    let values: AmfValue[];
    try {
      values = decodeData(MessageType.DataAmf0, body, this.s.ctx.config.amf);
    } catch (err) {
      throw wrapError(`publish ${p.stream.key}: data message`, err);
    }
    if (values[0] === 'onMetaData') {
      const fields = values[1] && typeof values[1] === 'object' ? { ...(values[1] as Record<string, unknown>) } : {};
      p.stream.commitMetadata(h.timestamp, Buffer.from(body), fields);
    } else {
      p.stream.commitData(h.timestamp, body);
    }
  }

  /** Aggregate message: each contained audio/video/data tag as if sent alone. */
  onAggregate(h: MessageHeader, payload: Uint8Array): void {
    if (!this.publishing) throw new SluiceError('ERR_PROTOCOL', 'aggregate message from a session that is not publishing');
    splitAggregate(h, payload, (sub, body) => {
      if (sub.type === MessageType.Audio || sub.type === MessageType.Video) this.onMedia(sub, body);
      else if (sub.type === MessageType.DataAmf0) this.onData(sub, body);
    });
  }

  private stopPublishing(): void {
    const p = this.publishing;
    if (!p) return;
    this.publishing = null;
    this.s.ctx.hub.unpublish(p.stream, this.s.id);
    this.s.log.info({ streamKey: p.stream.key }, 'unpublished');
  }

  private stopPlaying(): void {
    const p = this.playing;
    if (!p) return;
    this.playing = null;
    p.stop();
  }

  /** Session end: leave the stream as a publisher or player. */
  teardown(): void {
    this.stopPublishing();
    this.stopPlaying();
  }
}

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
 * Its layers, a file each: the transport (connection.ts, over the
 * connection machine in protocol/rtmp-connection.ts), the NetConnection
 * commands (commands.ts), and here the NetStream side a user drives. Every wait has a timeout; a protocol error, a socket
 * error or a throwing listener ends this client only, rejecting whatever
 * was waiting.
 */
import * as control from '../../protocol/control.js';
import { encodeAmf0 } from '../../protocol/amf0.js';
import { ecmaArray, type AmfValue } from '../../protocol/amf-types.js';
import { buildAggregate, type AggregateTag } from '../../protocol/aggregate.js';
import { MessageType } from '../../protocol/types.js';
import { parseRtmpUrl, type RtmpUrl } from '../url.js';
import { CSID } from './connection.js';
import { RtmpCommandConnection } from './commands.js';
import type { RtmpClientOptions, StatusEvent } from './types.js';

// The client's public surface stays importable from here.
export { parseRtmpUrl, type RtmpUrl } from '../url.js';
export { buildAggregate, type AggregateTag } from '../../protocol/aggregate.js';
export {
  RtmpStatusError,
  type RtmpClientOptions,
  type IngestSink,
  type MediaMessage,
  type StatusEvent,
  type ReconnectRequest,
  type ControlEvent,
  type CommandReply,
  type RtmpClientEvents,
  type ClientStats,
} from './types.js';

export class RtmpClient extends RtmpCommandConnection {
  private constructor(url: RtmpUrl, opts: RtmpClientOptions) {
    super(url, opts);
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
}

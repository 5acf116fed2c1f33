/**
 * The shapes RtmpClient users depend on: its options, the events it emits
 * and the records they carry. The client itself is rtmp-client.ts.
 */
import { SluiceError } from '../../core/errors.js';
import type { UserControl } from '../../protocol/control.js';
import type { Command } from '../../protocol/commands.js';
import type { AmfObject, AmfValue } from '../../protocol/amf-types.js';
import type { MessageHeader } from '../../protocol/types.js';
import type { ConnectionStats, ControlEvent } from '../../protocol/rtmp-connection.js';

export type { ControlEvent };

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
  /**
   * E-RTMP v2 capsEx of the connect command object (CapsEx bits in
   * protocol/commands.ts; 1 = Reconnect: the server may send
   * 'reconnectRequest'). Default: none sent, a legacy client.
   */
  capsEx?: number;
  /** Extra properties of the connect command object (type, swfUrl, pageUrl, ...). */
  connectObject?: Record<string, AmfValue>;
  /** Announce our own Window Acknowledgement Size: the server then acknowledges what we send. */
  windowAckSize?: number;
  /** SetBufferLength sent with play (default 1000 ms). */
  bufferLengthMs?: number;
  /** Largest message accepted from the server (default 16 MiB). */
  maxMessageSize?: number;
  /** Where received message bodies go (default: a buffer of the client's own per message). */
  ingest?: IngestSink;
  /** rtmps://: trusted CA certificates (PEM) beside the system's; default the system's only. */
  tlsCa?: Buffer;
  /** rtmps://: check the server's certificate and name (default true). */
  tlsVerify?: boolean;
}

/**
 * Zero-copy ingest (an edge's upstream): the body of a message is read
 * straight into memory the sink chooses, e.g. a stream ring's reservation.
 * Payloads handed to listeners are then the sink's, not the client's.
 */
export interface IngestSink {
  /** Where this message's `h.length` body bytes go; undefined: a buffer of the client's own. */
  payloadFor(h: MessageHeader): Uint8Array | undefined;
  /** A partial message in `dest` was dropped (Abort, or the connection closed). */
  abandoned(h: MessageHeader, dest: Uint8Array): void;
}

/** The options with their defaults applied (the ones without a default stay optional). */
export type ResolvedClientOptions = Required<Omit<RtmpClientOptions, 'windowAckSize' | 'objectEncoding' | 'ingest' | 'tlsCa' | 'capsEx'>> & RtmpClientOptions;

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

/** E-RTMP v2 NetConnection.Connect.ReconnectRequest: the server asks us to move (drain, load balancing). */
export interface ReconnectRequest {
  /** Where to reconnect: the request's tcUrl resolved against ours, or ours when it named none. */
  tcUrl: string;
  description: string;
  /** The onStatus it came in (also emitted as 'status', on stream 0). */
  status: StatusEvent;
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
  /**
   * The server asks us to reconnect (only servers we told capsEx Reconnect
   * send it). Go on playing or publishing here to a media boundary, connect
   * to `tcUrl`, then close this client (E-RTMP v2 message flow).
   */
  reconnectRequest: [ReconnectRequest];
  /** Commands other than _result/_error/onStatus (onBWDone, onFCPublish, ...). */
  command: [Command & { streamId: number }];
  userControl: [UserControl];
  control: [ControlEvent];
  /** The client is closed; `error` says why when it was not close(). */
  close: [error: Error | undefined];
}

/** The connection machine's counters, plus the media messages received. */
export interface ClientStats extends ConnectionStats {
  mediaIn: number;
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

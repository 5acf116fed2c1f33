/**
 * NetConnection / NetStream command messages (RTMP spec 7.2) and data
 * messages: decoding what clients send, building what the server answers.
 * Pure functions over AMF values; the session decides what to do.
 */
import { SluiceError } from '../core/errors.js';
import { decodeAmf0, encodeAmf0 } from './amf0.js';
import { amfObject, ecmaArray, type AmfLimits, type AmfObject, type AmfValue } from './amf-types.js';
import { MessageType, type MessageHeader } from './types.js';

export interface Command {
  name: string;
  transactionId: number;
  /** Command object (null for most NetStream commands). */
  object: AmfObject | null;
  args: AmfValue[];
}

/**
 * Decodes an AMF0 (type 20) or AMF3 (type 17) command. A type-17 body
 * starts with a format byte 0x00, then AMF0 values that may switch to AMF3
 * per value (marker 0x11).
 */
export function decodeCommand(type: number, payload: Uint8Array, limits?: Partial<AmfLimits>): Command {
  const body = type === MessageType.CommandAmf3 && payload[0] === 0 ? payload.subarray(1) : payload;
  const values = decodeAmf0(body, limits);
  const name = values[0];
  if (typeof name !== 'string') {
    throw new SluiceError('ERR_COMMAND', `command name is ${typeof name}, expected string`);
  }
  const txn = typeof values[1] === 'number' ? values[1] : 0;
  const obj = values[2];
  return {
    name,
    transactionId: txn,
    object: typeof obj === 'object' && obj !== null && !Array.isArray(obj) ? (obj as AmfObject) : null,
    args: values.slice(3),
  };
}

/** Data message (type 18, or 15 with a leading format byte) as AMF values. */
export function decodeData(type: number, payload: Uint8Array, limits?: Partial<AmfLimits>): AmfValue[] {
  const body = type === MessageType.DataAmf3 && payload[0] === 0 ? payload.subarray(1) : payload;
  return decodeAmf0(body, limits);
}

/** AMF0 encoding of the string "@setDataFrame": marker 02, u16 length 13, bytes. */
const SET_DATA_FRAME = encodeAmf0(['@setDataFrame']);

/**
 * onMetaData as players expect it: `@setDataFrame` (how encoders ask the
 * server to keep metadata) is stripped by slicing its bytes off, so the
 * rest reaches players byte for byte.
 */
export function unwrapSetDataFrame(body: Uint8Array): Uint8Array {
  if (body.length >= SET_DATA_FRAME.length && Buffer.from(body.buffer, body.byteOffset, SET_DATA_FRAME.length).equals(SET_DATA_FRAME)) {
    return body.subarray(SET_DATA_FRAME.length);
  }
  return body;
}

/** AMF0 "|RtmpSampleAccess": what a server sends each player on play, not stream content. */
const SAMPLE_ACCESS = encodeAmf0(['|RtmpSampleAccess']);

/** Whether a data message (type 18) is the server's per-play |RtmpSampleAccess, which a relay must not pass on. */
export function isSampleAccess(payload: Uint8Array): boolean {
  return payload.length >= SAMPLE_ACCESS.length && Buffer.from(payload.buffer, payload.byteOffset, SAMPLE_ACCESS.length).equals(SAMPLE_ACCESS);
}

// ---- server -> client ------------------------------------------------------

export const COMMAND_CSID = 3;
/** Chunk stream for NetStream status messages (the session's own, compressed). */
export const STREAM_CSID = 5;

export interface OutMessage {
  header: MessageHeader;
  payload: Buffer;
}

export function commandMessage(streamId: number, values: AmfValue[], csid = streamId === 0 ? COMMAND_CSID : STREAM_CSID): OutMessage {
  const payload = encodeAmf0(values);
  return { header: { csid, type: MessageType.CommandAmf0, timestamp: 0, length: payload.length, streamId }, payload };
}

export function dataMessage(streamId: number, values: AmfValue[]): OutMessage {
  const payload = encodeAmf0(values);
  return { header: { csid: STREAM_CSID, type: MessageType.DataAmf0, timestamp: 0, length: payload.length, streamId }, payload };
}

export function status(level: 'status' | 'error' | 'warning', code: string, description: string, extra: Record<string, AmfValue> = {}): AmfObject {
  return amfObject({ level, code, description, ...extra });
}

/**
 * _result of connect with what encoders and players look for (FMS-compatible).
 * `capsEx`: the E-RTMP v2 capabilities the server states in the properties
 * object ("the server SHOULD state its support via ... capsEx"); none when 0.
 */
export function connectResult(transactionId: number, objectEncoding: number, serverVersion: string, capsEx = 0): OutMessage {
  return commandMessage(0, [
    '_result',
    transactionId,
    amfObject({ fmsVer: 'FMS/3,5,7,7009', capabilities: 31, mode: 1, ...(capsEx ? { capsEx } : {}) }),
    status('status', 'NetConnection.Connect.Success', 'Connection succeeded.', {
      objectEncoding,
      data: ecmaArray({ version: serverVersion, server: 'sluice' }),
    }),
  ]);
}

export function resultMessage(transactionId: number, ...values: AmfValue[]): OutMessage {
  return commandMessage(0, ['_result', transactionId, ...values]);
}

export function errorMessage(transactionId: number, code: string, description: string): OutMessage {
  return commandMessage(0, ['_error', transactionId, null, status('error', code, description)]);
}

export function onStatus(streamId: number, level: 'status' | 'error' | 'warning', code: string, description: string, details?: string): OutMessage {
  const extra: Record<string, AmfValue> = details === undefined ? {} : { details, clientid: 'sluice' };
  return commandMessage(streamId, ['onStatus', 0, null, status(level, code, description, extra)]);
}

/** onFCPublish / onFCUnpublish / onFCSubscribe replies (Akamai/Limelight-style FC* calls). */
export function onFc(name: 'onFCPublish' | 'onFCUnpublish' | 'onFCSubscribe', code: string, description: string): OutMessage {
  return commandMessage(0, [name, 0, null, status('status', code, description)]);
}

/** |RtmpSampleAccess: lets Flash players read the decoded audio/video. */
export function sampleAccess(streamId: number): OutMessage {
  return dataMessage(streamId, ['|RtmpSampleAccess', true, true]);
}

// ---- Enhanced RTMP v2: capsEx and Reconnect Request --------------------------

/** E-RTMP v2 CapsExMask ("Enhancing NetConnection connect Command"): the bits of `capsEx`. */
export const CapsEx = { Reconnect: 0x01, Multitrack: 0x02, ModEx: 0x04, TimestampNanoOffset: 0x08 } as const;

/**
 * The `capsEx` of a connect command object or a _result properties object:
 * 0 when absent or not a UI32 flag number (a peer's odd value costs it the
 * extensions, not its session).
 */
export function capsExOf(obj: AmfObject | null | undefined): number {
  const v = obj?.capsEx;
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : 0;
}

export const RECONNECT_REQUEST = 'NetConnection.Connect.ReconnectRequest';

/**
 * E-RTMP v2 "Reconnect Request": onStatus on the NetConnection (message
 * stream 0, transaction 0 "no response needed", null command object) with
 * info { level: 'status', code: NetConnection.Connect.ReconnectRequest,
 * description, tcUrl }. Without `tcUrl` the client reconnects to the tcUrl
 * of its current connection.
 */
export function reconnectRequest(description: string, tcUrl?: string): OutMessage {
  return commandMessage(0, ['onStatus', 0, null, status('status', RECONNECT_REQUEST, description, tcUrl ? { tcUrl } : {})]);
}

/** The ReconnectRequest an onStatus info object carries, as a client reads it; undefined for any other status. */
export function readReconnectRequest(info: AmfObject): { tcUrl: string | undefined; description: string } | undefined {
  if (info.code !== RECONNECT_REQUEST) return undefined;
  return {
    tcUrl: typeof info.tcUrl === 'string' && info.tcUrl.length > 0 ? info.tcUrl : undefined,
    description: typeof info.description === 'string' ? info.description : '',
  };
}

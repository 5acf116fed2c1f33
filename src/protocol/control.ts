/**
 * Protocol control messages (RTMP spec 5.4) and User Control messages
 * (RTMP spec 6.2 / 7.1.7): builders of their payloads and a decoder.
 * They travel on chunk stream 2, message stream 0.
 */
import { ByteReader } from '../core/bytes.js';
import { MessageType, UserControlEvent, type MessageHeader } from './types.js';

export const CONTROL_CSID = 2;

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

export interface ControlMessage {
  header: MessageHeader;
  payload: Buffer;
}

function control(type: number, payload: Buffer): ControlMessage {
  return { header: { csid: CONTROL_CSID, type, timestamp: 0, length: payload.length, streamId: 0 }, payload };
}

export const setChunkSize = (size: number): ControlMessage => control(MessageType.SetChunkSize, u32(size & 0x7fffffff));
export const abortMessage = (csid: number): ControlMessage => control(MessageType.Abort, u32(csid));
export const acknowledgement = (bytes: number): ControlMessage => control(MessageType.Acknowledgement, u32(bytes));
export const windowAckSize = (size: number): ControlMessage => control(MessageType.WindowAckSize, u32(size));

/** Limit type: 0 hard, 1 soft, 2 dynamic (RTMP spec 5.4.5). */
export function setPeerBandwidth(size: number, limitType: 0 | 1 | 2): ControlMessage {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(size >>> 0, 0);
  b[4] = limitType;
  return control(MessageType.SetPeerBandwidth, b);
}

function userControl(event: number, ...values: number[]): ControlMessage {
  const b = Buffer.allocUnsafe(2 + values.length * 4);
  b.writeUInt16BE(event, 0);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 2 + i * 4));
  return control(MessageType.UserControl, b);
}

export const streamBegin = (streamId: number): ControlMessage => userControl(UserControlEvent.StreamBegin, streamId);
export const streamEof = (streamId: number): ControlMessage => userControl(UserControlEvent.StreamEOF, streamId);
export const streamDry = (streamId: number): ControlMessage => userControl(UserControlEvent.StreamDry, streamId);
export const streamIsRecorded = (streamId: number): ControlMessage =>
  userControl(UserControlEvent.StreamIsRecorded, streamId);
export const setBufferLength = (streamId: number, ms: number): ControlMessage =>
  userControl(UserControlEvent.SetBufferLength, streamId, ms);
export const pingRequest = (time: number): ControlMessage => userControl(UserControlEvent.PingRequest, time);
export const pingResponse = (time: number): ControlMessage => userControl(UserControlEvent.PingResponse, time);

export type UserControl =
  | { event: 'StreamBegin' | 'StreamEOF' | 'StreamDry' | 'StreamIsRecorded'; streamId: number }
  | { event: 'SetBufferLength'; streamId: number; bufferMs: number }
  | { event: 'PingRequest' | 'PingResponse'; time: number }
  | { event: 'Unknown'; code: number };

export function decodeUserControl(payload: Uint8Array): UserControl {
  const r = new ByteReader(payload, 0, payload.length, 'ERR_PROTOCOL');
  const code = r.u16be('user control event type');
  switch (code) {
    case UserControlEvent.StreamBegin:
      return { event: 'StreamBegin', streamId: r.u32be('stream id') };
    case UserControlEvent.StreamEOF:
      return { event: 'StreamEOF', streamId: r.u32be('stream id') };
    case UserControlEvent.StreamDry:
      return { event: 'StreamDry', streamId: r.u32be('stream id') };
    case UserControlEvent.StreamIsRecorded:
      return { event: 'StreamIsRecorded', streamId: r.u32be('stream id') };
    case UserControlEvent.SetBufferLength:
      return { event: 'SetBufferLength', streamId: r.u32be('stream id'), bufferMs: r.u32be('buffer length') };
    case UserControlEvent.PingRequest:
      return { event: 'PingRequest', time: r.u32be('ping time') };
    case UserControlEvent.PingResponse:
      return { event: 'PingResponse', time: r.u32be('ping time') };
    default:
      // Flash sends other events (e.g. 31/32 buffer empty/ready); they are harmless.
      return { event: 'Unknown', code };
  }
}

/** The 4-byte big-endian value of Set Chunk Size / Ack / Window Ack Size / Abort. */
export function decodeU32Control(payload: Uint8Array, what: string): number {
  return new ByteReader(payload, 0, payload.length, 'ERR_PROTOCOL').u32be(what);
}

/** Set Peer Bandwidth payload: window size + limit type. */
export function decodePeerBandwidth(payload: Uint8Array): { size: number; limitType: number } {
  const r = new ByteReader(payload, 0, payload.length, 'ERR_PROTOCOL');
  const size = r.u32be('peer bandwidth');
  return { size, limitType: r.remaining > 0 ? r.u8('limit type') : 2 };
}

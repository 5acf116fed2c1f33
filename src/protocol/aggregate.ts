/**
 * Aggregate messages (RTMP spec 7.1.6, type 22): a body of FLV-tag-shaped
 * sub-messages, each `type u8 | size u24 | ts u24 | ts-ext u8 | stream id
 * u24 | body | back pointer u32`. Sub-message timestamps are made relative
 * to the first one and added to the aggregate's own timestamp.
 */
import { ByteReader, ByteWriter } from '../core/bytes.js';
import type { MessageHeader } from './types.js';

/** One FLV tag of an aggregate message: its timestamp is absolute, as in the FLV file. */
export interface AggregateTag {
  type: number;
  timestamp: number;
  payload: Uint8Array;
}

/** The body of an aggregate message of `tags`, back to back; stream ids are written as 0. */
export function buildAggregate(tags: readonly AggregateTag[]): Buffer {
  const w = new ByteWriter(tags.reduce((n, t) => n + 15 + t.payload.length, 0));
  for (const t of tags) {
    const ts = t.timestamp >>> 0;
    w.u8(t.type).u24be(t.payload.length).u24be(ts & 0xffffff).u8(ts >>> 24).u24be(0);
    // The back pointer is the tag's size: an 11-byte header plus its body.
    w.bytes(t.payload).u32be(11 + t.payload.length);
  }
  return w.toBuffer();
}

/** Calls `each` with every sub-message (its body is a view into `payload`). */
export function splitAggregate(h: MessageHeader, payload: Uint8Array, each: (sub: MessageHeader, body: Uint8Array) => void): void {
  const r = new ByteReader(payload, 0, payload.length, 'ERR_PROTOCOL');
  let base: number | undefined;
  while (r.remaining > 0) {
    const type = r.u8('aggregate sub-message type');
    const size = r.u24be('aggregate sub-message size');
    const ts = (r.u24be('aggregate timestamp') | (r.u8('aggregate timestamp ext') << 24)) >>> 0;
    r.skip(3, 'aggregate stream id');
    const body = r.bytes(size, 'aggregate sub-message body');
    r.skip(4, 'aggregate back pointer');
    base ??= ts;
    each({ ...h, type, length: size, timestamp: (h.timestamp + ts - base) >>> 0 }, body);
  }
}

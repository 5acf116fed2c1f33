/**
 * AMF0 codec (Adobe "Action Message Format -- AMF 0", December 2007).
 * RTMP command (20) and data (18) messages are a run of AMF0 values;
 * 15/17 are a 0x00 byte then the same, switching to AMF3 per value with
 * the avmplus-object marker (0x11, AMF0 spec 3.1).
 *
 * One decoder/encoder instance is one reference context (AMF0 spec 2.9)
 * plus one AMF3 context for every 0x11 switch in it: one RTMP message.
 */
import { ByteReader, ByteWriter } from '../core/bytes.js';
import { SluiceError } from '../core/errors.js';
import {
  AMF_CLASS_NAME, AmfDictionary, AmfExternalizable, AmfVector, AmfXml,
  checkCount, checkDepth, checkStringLength, decodeUtf8, encodeUtf8, isEcmaArray, resolveAmfLimits,
  tagClassName, tagEcmaArray,
  type AmfLimits, type AmfObject, type AmfValue,
} from './amf-types.js';
import { Amf3Decoder } from './amf3-decoder.js';
import { Amf3Encoder } from './amf3-encoder.js';

/** AMF0 type markers (AMF0 spec 2.1). */
export const Amf0Marker = {
  Number: 0x00, Boolean: 0x01, String: 0x02, Object: 0x03, MovieClip: 0x04, Null: 0x05,
  Undefined: 0x06, Reference: 0x07, EcmaArray: 0x08, ObjectEnd: 0x09, StrictArray: 0x0a,
  Date: 0x0b, LongString: 0x0c, Unsupported: 0x0d, RecordSet: 0x0e, XmlDocument: 0x0f,
  TypedObject: 0x10, AvmPlusObject: 0x11,
} as const;

/** The reference table is indexed by a U16 (AMF0 spec 2.9). */
const MAX_REFERENCES = 0x10000;

export class Amf0Decoder {
  readonly limits: Readonly<AmfLimits>;
  /** Complex objects (object, typed object, ECMA array, strict array) in the order they began. */
  private readonly refs: AmfValue[] = [];
  private amf3: Amf3Decoder | undefined;

  constructor(readonly reader: ByteReader, limits?: Partial<AmfLimits>) {
    this.limits = resolveAmfLimits(limits);
  }

  /** Reads one AMF0 value; `depth` is the number of containers around it. */
  readValue(depth = 0): AmfValue {
    const r = this.reader;
    const at = r.pos;
    const marker = r.u8('amf0 marker');
    switch (marker) {
      case Amf0Marker.Number: return r.f64be('amf0 number');
      // Any non-zero byte is true (AMF0 spec 2.3).
      case Amf0Marker.Boolean: return r.u8('amf0 boolean') !== 0;
      case Amf0Marker.String: return this.readUtf8(r.u16be('amf0 string length'), 'amf0 string', at);
      case Amf0Marker.Object: {
        checkDepth(depth, this.limits, 'amf0 object', at);
        return this.readProperties(this.add(Object.create(null) as AmfObject), depth, at);
      }
      case Amf0Marker.Null: return null;
      case Amf0Marker.Undefined: return undefined;
      case Amf0Marker.Reference: {
        const idx = r.u16be('amf0 reference');
        if (idx >= this.refs.length) {
          throw new SluiceError('ERR_AMF', `amf0: bad reference ${idx} at offset ${at} (table has ${this.refs.length})`);
        }
        return this.refs[idx];
      }
      case Amf0Marker.EcmaArray: {
        // The U32 associative-count is only a hint: encoders send 0 or stale counts,
        // so members are read up to the object end and counted against maxItems.
        r.u32be('amf0 ecma array count');
        checkDepth(depth, this.limits, 'amf0 ecma array', at);
        return this.readProperties(this.add(tagEcmaArray(Object.create(null) as AmfObject)), depth, at);
      }
      case Amf0Marker.StrictArray: {
        const count = r.u32be('amf0 strict array count');
        checkCount(count, 1, r.remaining, this.limits, 'amf0 strict array', at);
        checkDepth(depth, this.limits, 'amf0 strict array', at);
        const arr = this.add<AmfValue[]>([]);
        for (let i = 0; i < count; i++) arr.push(this.readValue(depth + 1));
        return arr;
      }
      case Amf0Marker.Date: {
        // DOUBLE ms since the epoch (UTC), then an S16 time-zone that the spec
        // reserves ("should be 0x0000", 2.13); a JS Date is UTC, so it is read and dropped.
        const ms = r.f64be('amf0 date');
        r.u16be('amf0 date time zone');
        return new Date(ms);
      }
      case Amf0Marker.LongString: return this.readUtf8(r.u32be('amf0 long string length'), 'amf0 long string', at);
      // "Unsupported" stands in for a value the sender could not serialize (2.15).
      case Amf0Marker.Unsupported: return undefined;
      case Amf0Marker.XmlDocument:
        return new AmfXml(this.readUtf8(r.u32be('amf0 xml length'), 'amf0 xml document', at), true);
      case Amf0Marker.TypedObject: {
        const className = this.readUtf8(r.u16be('amf0 class name length'), 'amf0 class name', at);
        checkDepth(depth, this.limits, 'amf0 typed object', at);
        return this.readProperties(this.add(tagClassName(Object.create(null) as AmfObject, className)), depth, at);
      }
      case Amf0Marker.AvmPlusObject:
        this.amf3 ??= new Amf3Decoder(r, this.limits);
        return this.amf3.readValue(depth);
      case Amf0Marker.MovieClip:
      case Amf0Marker.RecordSet:
        throw new SluiceError('ERR_AMF', `amf0: reserved marker 0x${hex2(marker)} (${marker === Amf0Marker.MovieClip ? 'movieclip' : 'recordset'}) at offset ${at} is not supported`);
      case Amf0Marker.ObjectEnd:
        throw new SluiceError('ERR_AMF', `amf0: object-end marker 0x09 outside an object at offset ${at}`);
      default:
        throw new SluiceError('ERR_AMF', `amf0: unknown marker 0x${hex2(marker)} at offset ${at}`);
    }
  }

  private add<T extends AmfValue>(v: T): T {
    this.refs.push(v);
    return v;
  }

  private readUtf8(len: number, what: string, at: number): string {
    checkStringLength(len, this.limits, what, at);
    return decodeUtf8(this.reader.bytes(len, what));
  }

  /**
   * Name/value pairs up to the object end: UTF-8-empty then 0x09 (the
   * bytes 00 00 09, AMF0 spec 2.5). An empty name followed by any other
   * marker is an ordinary property named "".
   */
  private readProperties(obj: AmfObject, depth: number, at: number): AmfObject {
    const r = this.reader;
    for (let n = 0; ; n++) {
      const len = r.u16be('amf0 property name length');
      if (len === 0) {
        r.need(1, 'amf0 object end');
        if (r.buf[r.pos] === Amf0Marker.ObjectEnd) {
          r.pos++;
          return obj;
        }
      }
      if (n >= this.limits.maxItems) {
        throw new SluiceError('ERR_AMF', `amf0 object at offset ${at}: more than maxItems ${this.limits.maxItems} members`);
      }
      const key = this.readUtf8(len, 'amf0 property name', at);
      obj[key] = this.readValue(depth + 1);
    }
  }
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}

/** Decodes every AMF0 value in `buf` (an RTMP command or data message body). */
export function decodeAmf0(buf: Uint8Array, limits?: Partial<AmfLimits>): AmfValue[] {
  const dec = new Amf0Decoder(new ByteReader(buf, 0, buf.length, 'ERR_AMF'), limits);
  const out: AmfValue[] = [];
  while (dec.reader.remaining > 0) out.push(dec.readValue());
  return out;
}

// ---------------------------------------------------------------------------

export class Amf0Encoder {
  readonly limits: Readonly<AmfLimits>;
  private readonly refs = new Map<object, number>();
  private amf3: Amf3Encoder | undefined;

  constructor(readonly writer: ByteWriter = new ByteWriter(), limits?: Partial<AmfLimits>) {
    this.limits = resolveAmfLimits(limits);
  }

  /**
   * Writes one value. Strings over 65535 UTF-8 bytes go as long strings;
   * ByteArray, Vector, Dictionary and externalizable values, which AMF0
   * cannot express, go through the avmplus-object switch to AMF3.
   */
  writeValue(v: AmfValue, depth = 0): void {
    const w = this.writer;
    if (v === undefined) w.u8(Amf0Marker.Undefined);
    else if (v === null) w.u8(Amf0Marker.Null);
    else if (typeof v === 'boolean') w.u8(Amf0Marker.Boolean).u8(v ? 1 : 0);
    else if (typeof v === 'number') w.u8(Amf0Marker.Number).f64be(v);
    else if (typeof v === 'string') {
      const b = encodeUtf8(v);
      if (b.length <= 0xffff) w.u8(Amf0Marker.String).u16be(b.length).bytes(b);
      else w.u8(Amf0Marker.LongString).u32be(b.length).bytes(b);
    } else if (typeof v !== 'object') {
      throw new SluiceError('ERR_AMF', `amf0: cannot encode a ${typeof v}`);
    } else if (v instanceof Date) {
      w.u8(Amf0Marker.Date).f64be(v.getTime()).u16be(0); // time zone: reserved, 0
    } else if (v instanceof AmfXml) {
      const b = encodeUtf8(v.xml);
      w.u8(Amf0Marker.XmlDocument).u32be(b.length).bytes(b);
    } else if (v instanceof Uint8Array || v instanceof AmfVector || v instanceof AmfDictionary || v instanceof AmfExternalizable) {
      w.u8(Amf0Marker.AvmPlusObject);
      this.amf3 ??= new Amf3Encoder(w, this.limits);
      this.amf3.writeValue(v, depth);
    } else if (this.reference(v)) {
      return;
    } else {
      if (depth >= this.limits.maxDepth) {
        throw new SluiceError('ERR_AMF_DEPTH', `amf0: value nests deeper than maxDepth ${this.limits.maxDepth}`);
      }
      if (Array.isArray(v)) {
        w.u8(Amf0Marker.StrictArray).u32be(v.length);
        for (let i = 0; i < v.length; i++) this.writeValue(v[i], depth + 1);
        return;
      }
      const keys = Object.keys(v);
      const className = (v as { [AMF_CLASS_NAME]?: string })[AMF_CLASS_NAME];
      if (isEcmaArray(v)) w.u8(Amf0Marker.EcmaArray).u32be(keys.length);
      else if (className !== undefined) this.writeUtf8(w.u8(Amf0Marker.TypedObject), className, 'class name');
      else w.u8(Amf0Marker.Object);
      for (const k of keys) {
        this.writeUtf8(w, k, 'property name');
        this.writeValue(v[k], depth + 1);
      }
      w.u16be(0).u8(Amf0Marker.ObjectEnd);
    }
  }

  /** Writes a reference when `o` was written before (AMF0 spec 2.9); else registers it. */
  private reference(o: object): boolean {
    const idx = this.refs.get(o);
    if (idx !== undefined) {
      this.writer.u8(Amf0Marker.Reference).u16be(idx);
      return true;
    }
    // Past 65536 complex objects later ones cannot be referenced and are written inline.
    if (this.refs.size < MAX_REFERENCES) this.refs.set(o, this.refs.size);
    return false;
  }

  private writeUtf8(w: ByteWriter, s: string, what: string): void {
    const b = encodeUtf8(s);
    if (b.length > 0xffff) throw new SluiceError('ERR_AMF', `amf0: ${what} of ${b.length} bytes exceeds 65535`);
    w.u16be(b.length).bytes(b);
  }
}

/** Encodes `values` as consecutive AMF0 values (one reference context). */
export function encodeAmf0(values: readonly AmfValue[], limits?: Partial<AmfLimits>): Buffer {
  const enc = new Amf0Encoder(new ByteWriter(), limits);
  for (const v of values) enc.writeValue(v);
  return enc.writer.view();
}

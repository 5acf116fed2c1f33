/**
 * AMF3 codec (Adobe "AMF 3 Specification", January 2013). Used for the
 * avmplus-object switch inside AMF0 (0x11) and so for RTMP messages 15/17,
 * whose body is a 0x00 byte and then AMF0 values that switch per value.
 *
 * One decoder/encoder instance is one reference context: its string,
 * object and traits tables live as long as it does (one RTMP message).
 */
import { ByteReader, ByteWriter } from '../core/bytes.js';
import { SluiceError } from '../core/errors.js';
import {
  AMF_CLASS_NAME, AmfDictionary, AmfExternalizable, AmfVector, AmfXml, EXTERNALIZABLE_WRAPPERS,
  checkCount, checkDepth, checkStringLength, decodeUtf8, encodeUtf8, isEcmaArray, resolveAmfLimits,
  tagClassName, tagEcmaArray, tagTraits, traitsOf,
  type AmfLimits, type AmfObject, type AmfTraits, type AmfValue, type AmfVectorKind,
} from './amf-types.js';

/** AMF3 type markers (spec 3.1). */
export const Amf3Marker = {
  Undefined: 0x00, Null: 0x01, False: 0x02, True: 0x03, Integer: 0x04, Double: 0x05,
  String: 0x06, XmlDoc: 0x07, Date: 0x08, Array: 0x09, Object: 0x0a, Xml: 0x0b, ByteArray: 0x0c,
  VectorInt: 0x0d, VectorUint: 0x0e, VectorDouble: 0x0f, VectorObject: 0x10, Dictionary: 0x11,
} as const;

/** Largest U29 (spec 1.3.1) and the signed 29-bit integer range (spec 3.6). */
export const U29_MAX = 0x1fffffff;
export const AMF3_INT_MIN = -0x10000000;
export const AMF3_INT_MAX = 0x0fffffff;

/** Table entry; `externalizable` is set only on U29O-traits-ext entries, so the rest tag objects as-is. */
interface Traits extends AmfTraits {
  readonly externalizable?: true;
}

const VECTOR_KINDS: Record<number, AmfVectorKind> = { 0x0d: 'int', 0x0e: 'uint', 0x0f: 'double', 0x10: 'object' };

export class Amf3Decoder {
  readonly limits: Readonly<AmfLimits>;
  private readonly strings: string[] = [];
  private readonly objects: AmfValue[] = [];
  private readonly traits: Traits[] = [];

  constructor(readonly reader: ByteReader, limits?: Partial<AmfLimits>) {
    this.limits = resolveAmfLimits(limits);
  }

  /** Reads one AMF3 value; `depth` is the number of containers around it. */
  readValue(depth = 0): AmfValue {
    const r = this.reader;
    const at = r.pos;
    const marker = r.u8('amf3 marker');
    switch (marker) {
      case Amf3Marker.Undefined: return undefined;
      case Amf3Marker.Null: return null;
      case Amf3Marker.False: return false;
      case Amf3Marker.True: return true;
      case Amf3Marker.Integer: {
        // Signed 29-bit two's complement in a U29 (spec 3.6).
        const v = this.u29('amf3 integer');
        return v & 0x10000000 ? v - 0x20000000 : v;
      }
      case Amf3Marker.Double: return r.f64be('amf3 double');
      case Amf3Marker.String: return this.readString('amf3 string');
      case Amf3Marker.XmlDoc:
      case Amf3Marker.Xml: {
        // U29X-value: low bit 1 = inline UTF-8 of length >> 1; 0 = object reference (spec 3.9, 3.13).
        const h = this.u29('amf3 xml header');
        if ((h & 1) === 0) return this.objectRef(h >>> 1, at);
        return this.add(new AmfXml(this.readUtf8(h >>> 1, 'amf3 xml', at), marker === Amf3Marker.XmlDoc));
      }
      case Amf3Marker.Date: {
        // U29D-value: 1 then a DOUBLE of ms since the epoch, UTC (spec 3.10).
        const h = this.u29('amf3 date header');
        if ((h & 1) === 0) return this.objectRef(h >>> 1, at);
        return this.add(new Date(r.f64be('amf3 date')));
      }
      case Amf3Marker.Array: return this.readArray(depth, at);
      case Amf3Marker.Object: return this.readObject(depth, at);
      case Amf3Marker.ByteArray: {
        const h = this.u29('amf3 bytearray header');
        if ((h & 1) === 0) return this.objectRef(h >>> 1, at);
        const len = h >>> 1;
        checkStringLength(len, this.limits, 'amf3 bytearray', at);
        return this.add(new Uint8Array(r.bytes(len, 'amf3 bytearray'))); // an owned copy
      }
      case Amf3Marker.VectorInt:
      case Amf3Marker.VectorUint:
      case Amf3Marker.VectorDouble:
      case Amf3Marker.VectorObject:
        return this.readVector(VECTOR_KINDS[marker]!, depth, at);
      case Amf3Marker.Dictionary: return this.readDictionary(depth, at);
      default:
        throw new SluiceError('ERR_AMF', `amf3: unknown marker 0x${hex2(marker)} at offset ${at}`);
    }
  }

  /** Variable-length unsigned 29-bit integer (spec 1.3.1): 7 bits per byte, the 4th byte gives 8. */
  private u29(what: string): number {
    const r = this.reader;
    let b = r.u8(what);
    if (b < 0x80) return b;
    let v = (b & 0x7f) << 7;
    b = r.u8(what);
    if (b < 0x80) return v | b;
    v = (v | (b & 0x7f)) << 7;
    b = r.u8(what);
    if (b < 0x80) return v | b;
    v = (v | (b & 0x7f)) << 8;
    return v | r.u8(what);
  }

  private readUtf8(len: number, what: string, at: number): string {
    checkStringLength(len, this.limits, what, at);
    return decodeUtf8(this.reader.bytes(len, what));
  }

  /** UTF-8-vr (spec 1.3.2): reference or inline; the empty string is never put in the table. */
  private readString(what: string): string {
    const at = this.reader.pos;
    const h = this.u29(what);
    if ((h & 1) === 0) {
      const idx = h >>> 1;
      if (idx >= this.strings.length) {
        throw new SluiceError('ERR_AMF', `${what} at offset ${at}: bad string reference ${idx} (table has ${this.strings.length})`);
      }
      return this.strings[idx]!;
    }
    const len = h >>> 1;
    if (len === 0) return '';
    const s = this.readUtf8(len, what, at);
    this.strings.push(s);
    return s;
  }

  private add<T extends AmfValue>(v: T): T {
    this.objects.push(v);
    return v;
  }

  private objectRef(idx: number, at: number): AmfValue {
    if (idx >= this.objects.length) {
      throw new SluiceError('ERR_AMF', `amf3: bad object reference ${idx} at offset ${at} (table has ${this.objects.length})`);
    }
    return this.objects[idx];
  }

  /** Array (spec 3.11): U29A dense count, associative name/value pairs up to "", then dense values. */
  private readArray(depth: number, at: number): AmfValue {
    const r = this.reader;
    const h = this.u29('amf3 array header');
    if ((h & 1) === 0) return this.objectRef(h >>> 1, at);
    const dense = h >>> 1;
    checkCount(dense, 1, r.remaining, this.limits, 'amf3 array', at);
    checkDepth(depth, this.limits, 'amf3 array', at);
    let key = this.readString('amf3 array key');
    if (key === '') {
      const arr = this.add<AmfValue[]>([]);
      for (let i = 0; i < dense; i++) arr.push(this.readValue(depth + 1));
      return arr;
    }
    // A mixed array maps to an ECMA-array object; dense items become keys "0".."n-1".
    const obj = this.add(tagEcmaArray(Object.create(null) as AmfObject));
    let n = dense;
    while (key !== '') {
      if (++n > this.limits.maxItems) this.tooMany('amf3 array', at);
      obj[key] = this.readValue(depth + 1);
      key = this.readString('amf3 array key');
    }
    for (let i = 0; i < dense; i++) obj[i] = this.readValue(depth + 1);
    return obj;
  }

  /** Object (spec 3.12): U29O header selects object ref, traits ref, externalizable or inline traits. */
  private readObject(depth: number, at: number): AmfValue {
    const r = this.reader;
    const h = this.u29('amf3 object header');
    if ((h & 1) === 0) return this.objectRef(h >>> 1, at);
    let traits: Traits;
    if ((h & 2) === 0) {
      const idx = h >>> 2;
      if (idx >= this.traits.length) {
        throw new SluiceError('ERR_AMF', `amf3: bad traits reference ${idx} at offset ${at} (table has ${this.traits.length})`);
      }
      traits = this.traits[idx]!;
    } else if ((h & 4) !== 0) {
      // U29O-traits-ext: 0b111 then the class name; the body format belongs to the class.
      traits = { className: this.readString('amf3 class name'), sealed: [], dynamic: false, externalizable: true };
      this.traits.push(traits);
    } else {
      // U29O-traits: bit 3 = dynamic, bits 4.. = sealed member count.
      const count = h >>> 4;
      checkCount(count, 1, r.remaining, this.limits, 'amf3 sealed members', at);
      const className = this.readString('amf3 class name');
      const sealed: string[] = [];
      for (let i = 0; i < count; i++) sealed.push(this.readString('amf3 sealed member name'));
      traits = Object.freeze({ className, sealed: Object.freeze(sealed), dynamic: (h & 8) !== 0 });
      this.traits.push(traits);
    }
    checkDepth(depth, this.limits, 'amf3 object', at);
    if (traits.externalizable) return this.readExternal(traits.className, depth, at);

    const obj = Object.create(null) as AmfObject;
    if (traits.className !== '') tagClassName(obj, traits.className);
    if (traits.className !== '' || traits.sealed.length > 0 || !traits.dynamic) tagTraits(obj, traits);
    this.objects.push(obj);
    for (const name of traits.sealed) obj[name] = this.readValue(depth + 1);
    if (traits.dynamic) {
      let n = traits.sealed.length;
      for (let key = this.readString('amf3 dynamic member name'); key !== ''; key = this.readString('amf3 dynamic member name')) {
        if (++n > this.limits.maxItems) this.tooMany('amf3 object', at);
        obj[key] = this.readValue(depth + 1);
      }
    }
    return obj;
  }

  private readExternal(className: string, depth: number, at: number): AmfValue {
    if (!EXTERNALIZABLE_WRAPPERS.has(className)) {
      throw new SluiceError('ERR_AMF', `amf3: externalizable class "${className}" at offset ${at} is not supported (private body format)`);
    }
    // ArrayCollection / ObjectProxy write their one wrapped value with writeObject.
    const ext = this.add(new AmfExternalizable(className, undefined));
    ext.value = this.readValue(depth + 1);
    return ext;
  }

  /** Vector (spec 3.15): U29V count, fixed-vector U8, [object type name], items. */
  private readVector(kind: AmfVectorKind, depth: number, at: number): AmfValue {
    const r = this.reader;
    const h = this.u29('amf3 vector header');
    if ((h & 1) === 0) return this.objectRef(h >>> 1, at);
    const count = h >>> 1;
    const fixed = r.u8('amf3 vector fixed flag') !== 0;
    const items: AmfValue[] = [];
    if (kind === 'object') {
      const typeName = this.readString('amf3 vector type name');
      checkCount(count, 1, r.remaining, this.limits, 'amf3 vector', at);
      checkDepth(depth, this.limits, 'amf3 vector', at);
      const vec = this.add(new AmfVector(kind, items, fixed, typeName));
      for (let i = 0; i < count; i++) items.push(this.readValue(depth + 1));
      return vec;
    }
    checkCount(count, kind === 'double' ? 8 : 4, r.remaining, this.limits, 'amf3 vector', at);
    for (let i = 0; i < count; i++) {
      items.push(kind === 'double' ? r.f64be('amf3 vector item') : kind === 'int' ? r.u32be('amf3 vector item') | 0 : r.u32be('amf3 vector item'));
    }
    return this.add(new AmfVector(kind, items, fixed));
  }

  /** Dictionary (spec 3.16): U29Dict count, weak-keys U8, then key/value pairs. */
  private readDictionary(depth: number, at: number): AmfValue {
    const r = this.reader;
    const h = this.u29('amf3 dictionary header');
    if ((h & 1) === 0) return this.objectRef(h >>> 1, at);
    const count = h >>> 1;
    const weak = r.u8('amf3 dictionary weak-keys flag') !== 0;
    checkCount(count, 2, r.remaining, this.limits, 'amf3 dictionary', at);
    checkDepth(depth, this.limits, 'amf3 dictionary', at);
    const dict = this.add(new AmfDictionary());
    dict.weakKeys = weak;
    for (let i = 0; i < count; i++) {
      const key = this.readValue(depth + 1);
      dict.set(key, this.readValue(depth + 1));
    }
    return dict;
  }

  private tooMany(what: string, at: number): never {
    throw new SluiceError('ERR_AMF', `${what} at offset ${at}: more than maxItems ${this.limits.maxItems} members`);
  }
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}

/** Decodes every AMF3 value in `buf` with one reference context. */
export function decodeAmf3(buf: Uint8Array, limits?: Partial<AmfLimits>): AmfValue[] {
  const dec = new Amf3Decoder(new ByteReader(buf, 0, buf.length, 'ERR_AMF'), limits);
  const out: AmfValue[] = [];
  while (dec.reader.remaining > 0) out.push(dec.readValue());
  return out;
}

// ---------------------------------------------------------------------------

export class Amf3Encoder {
  readonly limits: Readonly<AmfLimits>;
  private readonly strings = new Map<string, number>();
  private readonly objects = new Map<object, number>();
  private readonly traits = new Map<string, number>();

  constructor(readonly writer: ByteWriter = new ByteWriter(), limits?: Partial<AmfLimits>) {
    this.limits = resolveAmfLimits(limits);
  }

  /** Writes one value. JS numbers that are integers in the signed 29-bit range go as integer, others as double. */
  writeValue(v: AmfValue, depth = 0): void {
    const w = this.writer;
    if (v === undefined) w.u8(Amf3Marker.Undefined);
    else if (v === null) w.u8(Amf3Marker.Null);
    else if (v === true) w.u8(Amf3Marker.True);
    else if (v === false) w.u8(Amf3Marker.False);
    else if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= AMF3_INT_MIN && v <= AMF3_INT_MAX && !Object.is(v, -0)) {
        w.u8(Amf3Marker.Integer);
        this.u29(v & U29_MAX);
      } else {
        w.u8(Amf3Marker.Double).f64be(v);
      }
    } else if (typeof v === 'string') {
      w.u8(Amf3Marker.String);
      this.writeString(v);
    } else if (typeof v !== 'object') {
      throw new SluiceError('ERR_AMF', `amf3: cannot encode a ${typeof v}`);
    } else if (v instanceof Date) {
      if (this.ref(Amf3Marker.Date, v)) return;
      w.u8(1).f64be(v.getTime());
    } else if (v instanceof AmfXml) {
      if (this.ref(v.document ? Amf3Marker.XmlDoc : Amf3Marker.Xml, v)) return;
      this.writeBytes(encodeUtf8(v.xml));
    } else if (v instanceof Uint8Array) {
      if (this.ref(Amf3Marker.ByteArray, v)) return;
      this.writeBytes(v);
    } else if (v instanceof AmfVector) this.writeVector(v, depth);
    else if (v instanceof AmfDictionary) this.writeDictionary(v, depth);
    else if (v instanceof AmfExternalizable) this.writeExternal(v, depth);
    else if (Array.isArray(v)) {
      if (this.ref(Amf3Marker.Array, v)) return;
      this.enter(depth);
      this.lengthHeader(v.length);
      w.u8(0x01); // empty associative part
      for (let i = 0; i < v.length; i++) this.writeValue(v[i], depth + 1);
    } else if (isEcmaArray(v)) this.writeMixedArray(v, depth);
    else this.writeObject(v, depth);
  }

  private enter(depth: number): void {
    if (depth >= this.limits.maxDepth) {
      throw new SluiceError('ERR_AMF_DEPTH', `amf3: value nests deeper than maxDepth ${this.limits.maxDepth}`);
    }
  }

  private u29(v: number): void {
    const w = this.writer;
    if (v < 0 || v > U29_MAX) throw new SluiceError('ERR_AMF', `amf3: ${v} does not fit a U29`);
    if (v < 0x80) w.u8(v);
    else if (v < 0x4000) w.u8((v >>> 7) | 0x80).u8(v & 0x7f);
    else if (v < 0x200000) w.u8((v >>> 14) | 0x80).u8(((v >>> 7) & 0x7f) | 0x80).u8(v & 0x7f);
    else w.u8((v >>> 22) | 0x80).u8(((v >>> 15) & 0x7f) | 0x80).u8(((v >>> 8) & 0x7f) | 0x80).u8(v & 0xff);
  }

  /** Inline header: (length << 1) | 1. */
  private lengthHeader(n: number): void {
    if (n > AMF3_INT_MAX) throw new SluiceError('ERR_AMF', `amf3: length ${n} too large for a U29 header`);
    this.u29(n * 2 + 1);
  }

  private writeBytes(b: Uint8Array): void {
    this.lengthHeader(b.length);
    this.writer.bytes(b);
  }

  /** UTF-8-vr: "" is always inline (0x01); any other repeat is a reference. */
  private writeString(s: string): void {
    if (s === '') {
      this.writer.u8(0x01);
      return;
    }
    const idx = this.strings.get(s);
    if (idx !== undefined) {
      this.u29(idx * 2);
      return;
    }
    this.strings.set(s, this.strings.size);
    this.writeBytes(encodeUtf8(s));
  }

  /** Writes the marker and, when `o` was written before, its object reference; else registers it. */
  private ref(marker: number, o: object): boolean {
    this.writer.u8(marker);
    const idx = this.objects.get(o);
    if (idx !== undefined) {
      this.u29(idx * 2);
      return true;
    }
    this.objects.set(o, this.objects.size);
    return false;
  }

  private writeMixedArray(o: AmfObject, depth: number): void {
    if (this.ref(Amf3Marker.Array, o)) return;
    this.enter(depth);
    const keys = Object.keys(o);
    let dense = 0;
    while (Object.prototype.hasOwnProperty.call(o, String(dense))) dense++;
    this.lengthHeader(dense);
    for (const k of keys) {
      if (isDenseIndex(k, dense)) continue;
      if (k === '') throw new SluiceError('ERR_AMF', 'amf3: an empty key cannot be encoded in an associative array');
      this.writeString(k);
      this.writeValue(o[k], depth + 1);
    }
    this.writer.u8(0x01);
    for (let i = 0; i < dense; i++) this.writeValue(o[i], depth + 1);
  }

  private writeObject(o: AmfObject, depth: number): void {
    if (this.ref(Amf3Marker.Object, o)) return;
    this.enter(depth);
    const declared = traitsOf(o);
    const className = declared?.className ?? (o as { [AMF_CLASS_NAME]?: string })[AMF_CLASS_NAME] ?? '';
    const keys = Object.keys(o);
    // Typed objects without decoded traits send all members sealed; anonymous ones all dynamic.
    const sealed = declared?.sealed ?? (className !== '' ? keys : []);
    const sealedSet = new Set(sealed);
    const extra = keys.filter((k) => !sealedSet.has(k));
    const dynamic = (declared?.dynamic ?? className === '') || extra.length > 0;
    this.writeTraits(className, sealed, dynamic);
    for (const name of sealed) this.writeValue(o[name], depth + 1);
    if (!dynamic) return;
    for (const k of extra) {
      if (k === '') throw new SluiceError('ERR_AMF', 'amf3: an empty dynamic member name cannot be encoded');
      this.writeString(k);
      this.writeValue(o[k], depth + 1);
    }
    this.writer.u8(0x01);
  }

  private writeTraits(className: string, sealed: readonly string[], dynamic: boolean): void {
    const sig = `${dynamic ? 'd' : 's'}\0${className}\0${sealed.join('\0')}`;
    const idx = this.traits.get(sig);
    if (idx !== undefined) {
      this.u29(idx * 4 + 1); // U29O-traits-ref
      return;
    }
    this.traits.set(sig, this.traits.size);
    if (sealed.length > 0x1ffffff) throw new SluiceError('ERR_AMF', 'amf3: too many sealed members');
    this.u29(sealed.length * 16 + (dynamic ? 8 : 0) + 3); // U29O-traits
    this.writeString(className);
    for (const name of sealed) this.writeString(name);
  }

  private writeExternal(v: AmfExternalizable, depth: number): void {
    if (!EXTERNALIZABLE_WRAPPERS.has(v.className)) {
      throw new SluiceError('ERR_AMF', `amf3: externalizable class "${v.className}" is not supported`);
    }
    if (this.ref(Amf3Marker.Object, v)) return;
    this.enter(depth);
    const sig = `x\0${v.className}`;
    const idx = this.traits.get(sig);
    if (idx !== undefined) this.u29(idx * 4 + 1);
    else {
      this.traits.set(sig, this.traits.size);
      this.u29(0x07); // U29O-traits-ext
      this.writeString(v.className);
    }
    this.writeValue(v.value, depth + 1);
  }

  private writeVector(v: AmfVector, depth: number): void {
    const marker = { int: Amf3Marker.VectorInt, uint: Amf3Marker.VectorUint, double: Amf3Marker.VectorDouble, object: Amf3Marker.VectorObject }[v.kind];
    if (this.ref(marker, v)) return;
    this.enter(depth);
    const w = this.writer;
    this.lengthHeader(v.items.length);
    w.u8(v.fixed ? 1 : 0);
    if (v.kind === 'object') {
      this.writeString(v.typeName);
      for (const item of v.items) this.writeValue(item, depth + 1);
      return;
    }
    for (const item of v.items) {
      if (typeof item !== 'number' || !vectorItemOk(v.kind, item)) {
        throw new SluiceError('ERR_AMF', `amf3: ${String(item)} is not a valid Vector.<${v.kind}> item`);
      }
      if (v.kind === 'double') w.f64be(item);
      else w.u32be(item);
    }
  }

  private writeDictionary(d: AmfDictionary, depth: number): void {
    if (this.ref(Amf3Marker.Dictionary, d)) return;
    this.enter(depth);
    this.lengthHeader(d.size);
    this.writer.u8(d.weakKeys ? 1 : 0);
    for (const [k, val] of d) {
      this.writeValue(k, depth + 1);
      this.writeValue(val, depth + 1);
    }
  }
}

function isDenseIndex(k: string, dense: number): boolean {
  const n = Number(k);
  return Number.isInteger(n) && n >= 0 && n < dense && String(n) === k;
}

function vectorItemOk(kind: AmfVectorKind, n: number): boolean {
  if (kind === 'int') return Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff;
  if (kind === 'uint') return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
  return true;
}

/** Encodes `values` as consecutive AMF3 values with one reference context. */
export function encodeAmf3(values: readonly AmfValue[], limits?: Partial<AmfLimits>): Buffer {
  const enc = new Amf3Encoder(new ByteWriter(), limits);
  for (const v of values) enc.writeValue(v);
  return enc.writer.view();
}

/**
 * AMF3 encoder (Adobe "AMF 3 Specification", January 2013), the writing
 * side of amf3-decoder.ts.
 *
 * One encoder instance is one reference context: its string, object and
 * traits tables live as long as it does (one RTMP message).
 */
import { ByteWriter } from '../core/bytes.js';
import { SluiceError } from '../core/errors.js';
import {
  AMF_CLASS_NAME, AmfDictionary, AmfExternalizable, AmfVector, AmfXml, EXTERNALIZABLE_WRAPPERS,
  encodeUtf8, isEcmaArray, resolveAmfLimits, traitsOf,
  type AmfLimits, type AmfObject, type AmfValue, type AmfVectorKind,
} from './amf-types.js';
import { AMF3_INT_MAX, AMF3_INT_MIN, Amf3Marker, U29_MAX } from './amf3-markers.js';

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

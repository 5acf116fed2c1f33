/**
 * AMF3 decoder (Adobe "AMF 3 Specification", January 2013). Used for the
 * avmplus-object switch inside AMF0 (0x11) and so for RTMP messages 15/17,
 * whose body is a 0x00 byte and then AMF0 values that switch per value.
 *
 * One decoder instance is one reference context: its string, object and
 * traits tables live as long as it does (one RTMP message).
 */
import { ByteReader } from '../core/bytes.js';
import { SluiceError } from '../core/errors.js';
import {
  AmfDictionary, AmfExternalizable, AmfVector, AmfXml, EXTERNALIZABLE_WRAPPERS,
  checkCount, checkDepth, checkStringLength, decodeUtf8, resolveAmfLimits, tagClassName, tagEcmaArray, tagTraits,
  type AmfLimits, type AmfObject, type AmfTraits, type AmfValue, type AmfVectorKind,
} from './amf-types.js';
import { Amf3Marker } from './amf3-markers.js';

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

/**
 * Values shared by the AMF0 and AMF3 codecs (amf0.ts, amf3-decoder.ts, amf3-encoder.ts), their
 * limits, and the two small helpers both codecs need (UTF-8, limits).
 *
 * Mapping of ActionScript types to JS values:
 *   number, boolean, string, null, undefined  -> the JS primitive
 *   Date                                      -> Date
 *   anonymous Object                          -> null-prototype plain object
 *   typed Object (AMF0 0x10, AMF3 traits)     -> same, tagged AMF_CLASS_NAME
 *   ECMA array (AMF0 0x08, AMF3 mixed array)  -> same, tagged AMF_ECMA_ARRAY
 *   strict / dense array                      -> AmfValue[]
 *   XMLDocument / XML                         -> AmfXml
 *   ByteArray (AMF3)                          -> Uint8Array (an owned copy)
 *   Vector.<int|uint|Number|Object> (AMF3)    -> AmfVector
 *   Dictionary (AMF3)                         -> AmfDictionary (a Map)
 *   IExternalizable wrappers (AMF3)           -> AmfExternalizable
 *
 * Decoded objects have a null prototype, so `obj.app` works and a
 * "__proto__" key from the wire is an ordinary own property. Tags are
 * non-enumerable symbols: Object.keys/JSON never see them, and the
 * encoders re-emit the same marker.
 */
import { SluiceError } from '../core/errors.js';

/** Present (true) on objects that are ECMA arrays (AMF0 0x08) or AMF3 arrays with an associative part. */
export const AMF_ECMA_ARRAY: unique symbol = Symbol('amf.ecmaArray');
/** Class name of a typed object (AMF0 0x10 typed-object, AMF3 traits class name). */
export const AMF_CLASS_NAME: unique symbol = Symbol('amf.className');
/** AMF3 traits an object was decoded with (AMF3 spec 3.12), so re-encoding keeps sealed/dynamic members. */
export const AMF_TRAITS: unique symbol = Symbol('amf.traits');

export interface AmfObject {
  [key: string]: AmfValue;
}

/** AMF3 traits (AMF3 spec 3.12): class name, sealed member names in order, dynamic flag. */
export interface AmfTraits {
  readonly className: string;
  readonly sealed: readonly string[];
  readonly dynamic: boolean;
}

/**
 * XML text. `document` true: legacy flash.xml.XMLDocument (AMF0 0x0F,
 * AMF3 0x07); false: E4X XML (AMF3 0x0B; AMF0 has only the one marker).
 */
export class AmfXml {
  constructor(
    readonly xml: string,
    readonly document = true,
  ) {}
}

export type AmfVectorKind = 'int' | 'uint' | 'double' | 'object';

/** AMF3 Vector (AMF3 spec 3.15). `typeName` is the element class of a Vector.<Object> ("*" when untyped). */
export class AmfVector {
  constructor(
    readonly kind: AmfVectorKind,
    readonly items: AmfValue[],
    readonly fixed = false,
    readonly typeName = kind === 'object' ? '*' : '',
  ) {}
}

/** AMF3 Dictionary (AMF3 spec 3.16): keys of any type, compared by identity. */
export class AmfDictionary extends Map<AmfValue, AmfValue> {
  weakKeys = false;
}

/**
 * An AMF3 externalizable object whose body is one AMF3 value: the Flex
 * wrappers flex.messaging.io.ArrayCollection (a source array) and
 * flex.messaging.io.ObjectProxy (an object). Other externalizable classes
 * use private formats and are refused.
 */
export class AmfExternalizable {
  constructor(
    readonly className: string,
    public value: AmfValue,
  ) {}
}

export type AmfValue =
  | number
  | boolean
  | string
  | null
  | undefined
  | Date
  | Uint8Array
  | AmfXml
  | AmfVector
  | AmfDictionary
  | AmfExternalizable
  | AmfObject
  | AmfValue[];

/** Class names whose externalized body is a single AMF3 value. */
export const EXTERNALIZABLE_WRAPPERS: ReadonlySet<string> = new Set([
  'flex.messaging.io.ArrayCollection',
  'flex.messaging.io.ObjectProxy',
]);

/** A fresh null-prototype object holding `props`' own enumerable string keys. */
export function amfObject(props: Readonly<Record<string, AmfValue>> = {}): AmfObject {
  const o = Object.create(null) as AmfObject;
  for (const k of Object.keys(props)) o[k] = props[k];
  return o;
}

/** An object that encodes as an ECMA array (AMF0 0x08; AMF3 array with associative part). */
export function ecmaArray(props: Readonly<Record<string, AmfValue>> = {}): AmfObject {
  return tagEcmaArray(amfObject(props));
}

/** An object that encodes as a typed object of `className` (AMF0 0x10; AMF3 sealed traits). */
export function typedObject(className: string, props: Readonly<Record<string, AmfValue>> = {}): AmfObject {
  return tagClassName(amfObject(props), className);
}

export function isEcmaArray(v: unknown): boolean {
  return typeof v === 'object' && v !== null && (v as { [AMF_ECMA_ARRAY]?: boolean })[AMF_ECMA_ARRAY] === true;
}

/** The class name of a typed object, or undefined for anonymous objects and non-objects. */
export function classNameOf(v: unknown): string | undefined {
  return typeof v === 'object' && v !== null ? (v as { [AMF_CLASS_NAME]?: string })[AMF_CLASS_NAME] : undefined;
}

export function traitsOf(v: unknown): AmfTraits | undefined {
  return typeof v === 'object' && v !== null ? (v as { [AMF_TRAITS]?: AmfTraits })[AMF_TRAITS] : undefined;
}

export function tagEcmaArray<T extends object>(o: T): T {
  return Object.defineProperty(o, AMF_ECMA_ARRAY, { value: true });
}

export function tagClassName<T extends object>(o: T, className: string): T {
  return Object.defineProperty(o, AMF_CLASS_NAME, { value: className });
}

export function tagTraits<T extends object>(o: T, traits: AmfTraits): T {
  return Object.defineProperty(o, AMF_TRAITS, { value: traits });
}

// ---------------------------------------------------------------------------
// Limits. Every count or length read from the wire is checked against these
// before anything is allocated for it; the server exposes them as config.

export interface AmfLimits {
  /** Deepest nesting of containers (objects, arrays, vectors, dictionaries). */
  maxDepth: number;
  /** Most elements or properties in one container, checked before allocating. */
  maxItems: number;
  /** Longest string, XML text or ByteArray, in bytes. */
  maxStringBytes: number;
}

export const DEFAULT_AMF_LIMITS: Readonly<AmfLimits> = Object.freeze({
  maxDepth: 32,
  maxItems: 65536,
  maxStringBytes: 1 << 20,
});

/** maxDepth above this could exhaust the JS stack (the codecs recurse per level). */
export const AMF_MAX_DEPTH_CAP = 1000;

/** Defaults filled in and each limit validated (ERR_CONFIG). */
export function resolveAmfLimits(limits?: Partial<AmfLimits>): Readonly<AmfLimits> {
  if (limits === undefined) return DEFAULT_AMF_LIMITS;
  const out: AmfLimits = { ...DEFAULT_AMF_LIMITS, ...limits };
  for (const key of ['maxDepth', 'maxItems', 'maxStringBytes'] as const) {
    const v = out[key];
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new SluiceError('ERR_CONFIG', `amf limit ${key} must be a positive integer, got ${String(v)}`);
    }
  }
  if (out.maxDepth > AMF_MAX_DEPTH_CAP) {
    throw new SluiceError('ERR_CONFIG', `amf limit maxDepth must be at most ${AMF_MAX_DEPTH_CAP}, got ${out.maxDepth}`);
  }
  return out;
}

// ---------------------------------------------------------------------------
// UTF-8. AMF strings are UTF-8 (AMF0 spec 1.3, AMF3 spec 1.3.2). Invalid
// sequences decode to U+FFFD rather than failing: encoders in the field put
// Latin-1 in metadata, and a replaced character harms nobody.

const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export function decodeUtf8(b: Uint8Array): string {
  // Short ASCII (object keys, command names) skips the decoder call.
  if (b.length <= 32) {
    let s = '';
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c >= 0x80) return utf8Decoder.decode(b);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8Decoder.decode(b);
}

export function encodeUtf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** Throws ERR_AMF when a declared length is over the string limit (before any read or allocation). */
export function checkStringLength(len: number, limits: Readonly<AmfLimits>, what: string, at: number): void {
  if (len > limits.maxStringBytes) {
    throw new SluiceError('ERR_AMF', `${what} at offset ${at}: length ${len} exceeds maxStringBytes ${limits.maxStringBytes}`);
  }
}

/** Throws ERR_AMF when a declared count is over maxItems or cannot fit in the bytes left. */
export function checkCount(
  count: number,
  minBytesEach: number,
  remaining: number,
  limits: Readonly<AmfLimits>,
  what: string,
  at: number,
): void {
  if (count > limits.maxItems) {
    throw new SluiceError('ERR_AMF', `${what} at offset ${at}: ${count} items exceeds maxItems ${limits.maxItems}`);
  }
  if (count * minBytesEach > remaining) {
    throw new SluiceError('ERR_AMF', `${what} at offset ${at}: ${count} items need at least ${count * minBytesEach} bytes, have ${remaining}`);
  }
}

/** Throws ERR_AMF_DEPTH when opening a container at `depth` would nest deeper than maxDepth. */
export function checkDepth(depth: number, limits: Readonly<AmfLimits>, what: string, at: number): void {
  if (depth >= limits.maxDepth) {
    throw new SluiceError('ERR_AMF_DEPTH', `${what} at offset ${at}: nesting deeper than maxDepth ${limits.maxDepth}`);
  }
}

/**
 * AMF3 wire constants (Adobe "AMF 3 Specification", January 2013), shared
 * by amf3-decoder.ts and amf3-encoder.ts.
 */

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

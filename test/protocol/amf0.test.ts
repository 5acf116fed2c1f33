/**
 * AMF0 codec, byte by byte: one test per marker of the AMF0 spec (2.2-2.18),
 * real RTMP messages (ffmpeg connect, @setDataFrame/onMetaData), and every
 * way a hostile peer can make a decoder fail: truncation at each offset,
 * nesting, huge declared lengths, bad references, unknown markers, fuzz.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from '../../src/core/bytes.js';
import { SluiceError } from '../../src/core/errors.js';
import { Amf0Decoder, decodeAmf0, encodeAmf0 } from '../../src/protocol/amf0.js';
import {
  AmfDictionary, AmfVector, AmfXml, DEFAULT_AMF_LIMITS,
  amfObject, classNameOf, ecmaArray, isEcmaArray, typedObject,
  type AmfLimits, type AmfObject, type AmfValue,
} from '../../src/protocol/amf-types.js';
import { throwsCode } from '../helpers/bytes.js';

/** Hex fixture: parts joined, whitespace ignored. */
function hex(...parts: string[]): Buffer {
  return Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
}

function reader(buf: Uint8Array): ByteReader {
  return new ByteReader(buf, 0, buf.length, 'ERR_AMF');
}

/** Decodes exactly one value and checks it used every byte. */
function one(buf: Uint8Array, limits?: Partial<AmfLimits>): AmfValue {
  const dec = new Amf0Decoder(reader(buf), limits);
  const v = dec.readValue();
  assert.equal(dec.reader.remaining, 0, 'value must consume the whole fixture');
  return v;
}


/** Every strict prefix of a one-value fixture must fail with ERR_AMF, nothing else. */
function assertEveryTruncationFails(buf: Buffer): void {
  for (let k = 0; k < buf.length; k++) {
    const prefix = Buffer.from(buf.subarray(0, k));
    throwsCode(() => new Amf0Decoder(reader(prefix)).readValue(), 'ERR_AMF');
  }
}

/** decode(fixture) equals `expected` and encode(expected) gives the fixture back. */
function roundTrip(buf: Buffer, expected: AmfValue): void {
  assert.deepEqual(one(buf), expected);
  assert.equal(encodeAmf0([expected]).toString('hex'), buf.toString('hex'));
  assertEveryTruncationFails(buf);
}

// --- one test per marker ----------------------------------------------------

test('0x00 number: IEEE-754 double, big-endian (2.2)', () => {
  roundTrip(hex('00 3ff8000000000000'), 1.5); // number marker, 1.5
  roundTrip(hex('00 8000000000000000'), -0); // negative zero survives
  roundTrip(hex('00 7ff0000000000000'), Infinity);
  assert.ok(Number.isNaN(one(hex('00 7ff8000000000000'))));
  assert.equal(encodeAmf0([NaN]).toString('hex'), '007ff8000000000000');
});

test('0x01 boolean: any non-zero byte is true (2.3)', () => {
  roundTrip(hex('01 01'), true);
  roundTrip(hex('01 00'), false);
  assert.equal(one(hex('01 02')), true); // non-canonical true from some encoders
});

test('0x02 string: U16 length + UTF-8 (2.4)', () => {
  roundTrip(hex('02 0007 636f6e6e656374'), 'connect'); // string marker, len 7, "connect"
  roundTrip(hex('02 0000'), ''); // empty string
  roundTrip(hex('02 0007 e282ac f09f8ea5'), '€🎥'); // 3-byte and 4-byte UTF-8 sequences
  assert.equal(one(hex('02 0002 ff41')), '\ufffdA'); // invalid UTF-8 is replaced, not fatal
  assert.equal(one(hex('02 0003 efbbbf')), '\ufeff'); // a BOM is content, not stripped
});

test('0x03 object: name/value pairs ending 00 00 09 (2.5)', () => {
  const buf = hex(
    '03', //                       object marker
    '0003 617070 02 0004 6c697665', // "app": string "live"
    '0001 6e 00 4000000000000000', // "n": number 2
    '000009', //                   UTF-8-empty + object-end marker
  );
  const v = one(buf) as AmfObject;
  assert.equal(Object.getPrototypeOf(v), null);
  assert.equal(v.app, 'live');
  roundTrip(buf, amfObject({ app: 'live', n: 2 }));
  roundTrip(hex('03 000009'), amfObject()); // empty object
});

test('0x03 object: "__proto__" and "" keys are plain properties', () => {
  const buf = hex(
    '03',
    '0009 5f5f70726f746f5f5f 05', // "__proto__": null
    '0000 02 0001 78', //            "": "x" (empty name not followed by 0x09)
    '000009',
  );
  const v = one(buf) as AmfObject;
  assert.equal(Object.getPrototypeOf(v), null);
  assert.deepEqual(Object.keys(v), ['__proto__', '']);
  assert.equal(v[''], 'x');
  assert.ok(Object.hasOwn(v, '__proto__'));
});

test('0x04 movieclip: reserved, refused (2.6)', () => {
  throwsCode(() => one(hex('04')), 'ERR_AMF', /movieclip.*offset 0/);
});

test('0x05 null (2.7)', () => {
  roundTrip(hex('05'), null);
});

test('0x06 undefined (2.8)', () => {
  roundTrip(hex('06'), undefined);
});

test('0x07 reference: U16 index into complex objects, same JS object (2.9)', () => {
  const buf = hex(
    '0a 00000003', //                 strict array (ref 0), 3 items
    '03 0001 61 00 3ff0000000000000 000009', // object (ref 1) { a: 1 }
    '07 0001', //                     reference to table entry 1
    '07 0000', //                     reference to the array itself (a cycle)
  );
  const arr = one(buf) as AmfValue[];
  assert.equal(arr[1], arr[0]);
  assert.equal(arr[2], arr);
  assert.equal(encodeAmf0([arr]).toString('hex'), buf.toString('hex'));
  assertEveryTruncationFails(buf);
});

test('0x07 reference: index outside the table is refused', () => {
  throwsCode(() => one(hex('07 0000')), 'ERR_AMF', /bad reference 0 at offset 0 \(table has 0\)/);
  throwsCode(() => one(hex('0a 00000002 03 000009 07 0002')), 'ERR_AMF', /bad reference 2/);
});

test('0x08 ECMA array: U32 count hint + pairs + 00 00 09, tagged (2.10)', () => {
  const buf = hex(
    '08 00000002', //                     ECMA array marker, associative-count 2
    '0001 61 00 3ff0000000000000', //    "a": 1
    '0001 62 01 01', //                   "b": true
    '000009',
  );
  const v = one(buf);
  assert.ok(isEcmaArray(v));
  assert.equal(Object.getPrototypeOf(v), null);
  roundTrip(buf, ecmaArray({ a: 1, b: true }));
  // The count is a hint only: encoders send 0 or stale counts.
  assert.deepEqual(one(hex('08 00000000 0001 61 05 000009')), ecmaArray({ a: null }));
  assert.deepEqual(one(hex('08 ffffffff 000009')), ecmaArray());
});

test('0x09 object end: only valid inside an object (2.11)', () => {
  throwsCode(() => one(hex('09')), 'ERR_AMF', /object-end marker 0x09 outside an object at offset 0/);
  throwsCode(() => one(hex('0a 00000001 09')), 'ERR_AMF', /offset 5/);
});

test('0x0A strict array: U32 count + values (2.12)', () => {
  roundTrip(
    hex(
      '0a 00000003', //          strict array marker, 3 items
      '00 3ff0000000000000', //  1
      '02 0001 78', //           "x"
      '05', //                   null
    ),
    [1, 'x', null],
  );
  roundTrip(hex('0a 00000000'), []);
});

test('0x0B date: DOUBLE ms + S16 reserved time zone (2.13)', () => {
  roundTrip(hex('0b 4278bcfe56800000 0000'), new Date(1_700_000_000_000)); // 2023-11-14T22:13:20Z, tz 0
  // A non-zero time zone (old Flash players wrote minutes) is read and ignored.
  assert.deepEqual(one(hex('0b 4278bcfe56800000 ff88')), new Date(1_700_000_000_000));
});

test('0x0C long string: U32 length + UTF-8 (2.14)', () => {
  assert.equal(one(hex('0c 00000003 616263')), 'abc');
  const big = 'x'.repeat(70_000);
  const enc = encodeAmf0([big]);
  assert.equal(enc.subarray(0, 5).toString('hex'), '0c00011170'); // long string marker, len 70000
  assert.equal(one(enc), big);
  assert.equal(encodeAmf0(['y'.repeat(0xffff)])[0], 0x02); // 65535 bytes still fits a string
  assertEveryTruncationFails(hex('0c 00000003 616263'));
});

test('0x0D unsupported: decodes to undefined (2.15)', () => {
  assert.equal(one(hex('0d')), undefined);
  assert.deepEqual(decodeAmf0(hex('0d 05')), [undefined, null]);
});

test('0x0E recordset: reserved, refused (2.16)', () => {
  throwsCode(() => one(hex('0e')), 'ERR_AMF', /recordset.*offset 0/);
});

test('0x0F XML document: U32 length + UTF-8 (2.17)', () => {
  roundTrip(hex('0f 00000004 3c612f3e'), new AmfXml('<a/>')); // xml-document marker, len 4, "<a/>"
});

test('0x10 typed object: class name + pairs + 00 00 09 (2.18)', () => {
  const buf = hex(
    '10 0005 506f696e74', //            typed object marker, class "Point"
    '0001 78 00 3ff0000000000000', //  "x": 1
    '0001 79 00 4000000000000000', //  "y": 2
    '000009',
  );
  const v = one(buf);
  assert.equal(classNameOf(v), 'Point');
  roundTrip(buf, typedObject('Point', { x: 1, y: 2 }));
});

test('0x11 avmplus-object: one AMF3 value inline (3.1)', () => {
  const buf = hex(
    '11', //             avmplus-object marker: switch to AMF3 for one value
    '0a 0b 01', //       AMF3 object, inline dynamic traits, class ""
    '03 61 04 05', //    "a": integer 5
    '01', //             end of dynamic members
  );
  assert.deepEqual(one(buf), amfObject({ a: 5 }));
  assertEveryTruncationFails(buf);
  // The encoder switches only for values AMF0 cannot express.
  assert.equal(encodeAmf0([amfObject({ a: 5 })])[0], 0x03);
  assert.equal(encodeAmf0([new Uint8Array([1, 2])]).toString('hex'), '110c050102');
  assert.equal(encodeAmf0([new AmfVector('int', [-1])]).toString('hex'), '110d0300ffffffff');
  // The AMF3 string table lasts for the whole message: "a" is reference 0 in the second switch.
  const two = hex('11 06 03 61', '11 06 00');
  assert.deepEqual(decodeAmf0(two), ['a', 'a']);
  assert.equal(
    encodeAmf0(['a', 'a'].map((s) => new AmfVector('object', [s]))).toString('hex'),
    hex(
      '11 10 03 00 03 2a 06 03 61', // Vector.<*> ["a"]: strings "*" (0) and "a" (1) enter the table
      '11 10 03 00 00 06 02', //       second switch: "*" is reference 0, "a" reference 1
    ).toString('hex'),
  );
});

test('unknown markers name the marker and offset', () => {
  throwsCode(() => decodeAmf0(hex('05 12')), 'ERR_AMF', /unknown marker 0x12 at offset 1/);
  throwsCode(() => decodeAmf0(hex('ff')), 'ERR_AMF', /unknown marker 0xff at offset 0/);
});

// --- real RTMP messages -----------------------------------------------------

/** connect from ffmpeg playing rtmp://localhost:1935/live (rtmpproto gen_connect field order), plus objectEncoding as Flash/librtmp send it. */
const CONNECT = hex(
  '02 0007 636f6e6e656374', //                         string "connect"
  '00 3ff0000000000000', //                            number 1 (transaction id)
  '03', //                                             command object
  '0003 617070 02 0004 6c697665', //                   app: "live"
  '0008 666c617368566572 02 000d 4c4e5820392c302c3132342c32', // flashVer: "LNX 9,0,124,2"
  '0005 746355726c 02 001a 72746d703a2f2f6c6f63616c686f73743a313933352f6c697665', // tcUrl: "rtmp://localhost:1935/live"
  '0004 66706164 01 00', //                            fpad: false
  '000c 6361706162696c6974696573 00 402e000000000000', // capabilities: 15
  '000b 617564696f436f64656373 00 40afce0000000000', // audioCodecs: 4071
  '000b 766964656f436f64656373 00 406f800000000000', // videoCodecs: 252
  '000d 766964656f46756e6374696f6e 00 3ff0000000000000', // videoFunction: 1
  '000e 6f626a656374456e636f64696e67 00 0000000000000000', // objectEncoding: 0 (AMF0)
  '000009', //                                         object end
);

const CONNECT_VALUES: AmfValue[] = [
  'connect',
  1,
  amfObject({
    app: 'live',
    flashVer: 'LNX 9,0,124,2',
    tcUrl: 'rtmp://localhost:1935/live',
    fpad: false,
    capabilities: 15,
    audioCodecs: 4071,
    videoCodecs: 252,
    videoFunction: 1,
    objectEncoding: 0,
  }),
];

/** @setDataFrame as ffmpeg's FLV muxer sends it over RTMP: 1280x720 H.264 + AAC 48 kHz stereo. */
const SET_DATA_FRAME = hex(
  '02 000d 40736574446174614672616d65', //            string "@setDataFrame"
  '02 000a 6f6e4d65746144617461', //                   string "onMetaData"
  '08 0000000d', //                                    ECMA array, 13 entries
  '0008 6475726174696f6e 00 0000000000000000', //     duration: 0
  '0005 7769647468 00 4094000000000000', //           width: 1280
  '0006 686569676874 00 4086800000000000', //         height: 720
  '000d 766964656f6461746172617465 00 40a3880000000000', // videodatarate: 2500
  '0009 6672616d6572617465 00 403e000000000000', //   framerate: 30
  '000c 766964656f636f6465636964 00 401c000000000000', // videocodecid: 7 (AVC)
  '000d 617564696f6461746172617465 00 4060000000000000', // audiodatarate: 128
  '000f 617564696f73616d706c6572617465 00 40e7700000000000', // audiosamplerate: 48000
  '000f 617564696f73616d706c6573697a65 00 4030000000000000', // audiosamplesize: 16
  '0006 73746572656f 01 01', //                       stereo: true
  '000c 617564696f636f6465636964 00 4024000000000000', // audiocodecid: 10 (AAC)
  '0007 656e636f646572 02 000d 4c61766636302e31362e313030', // encoder: "Lavf60.16.100"
  '0008 66696c6573697a65 00 0000000000000000', //     filesize: 0
  '000009', //                                         object end
);

const SET_DATA_FRAME_VALUES: AmfValue[] = [
  '@setDataFrame',
  'onMetaData',
  ecmaArray({
    duration: 0, width: 1280, height: 720, videodatarate: 2500, framerate: 30, videocodecid: 7,
    audiodatarate: 128, audiosamplerate: 48000, audiosamplesize: 16, stereo: true, audiocodecid: 10,
    encoder: 'Lavf60.16.100', filesize: 0,
  }),
];

/** Each prefix either fails with ERR_AMF or ends exactly on a value boundary. */
function assertMessageTruncations(buf: Buffer, values: AmfValue[]): void {
  const boundaries = new Map<number, number>();
  for (let i = 0; i <= values.length; i++) boundaries.set(encodeAmf0(values.slice(0, i)).length, i);
  for (let k = 0; k < buf.length; k++) {
    const prefix = Buffer.from(buf.subarray(0, k));
    const n = boundaries.get(k);
    if (n === undefined) throwsCode(() => decodeAmf0(prefix), 'ERR_AMF');
    else assert.deepEqual(decodeAmf0(prefix), values.slice(0, n));
  }
}

test('connect command as sent by ffmpeg: decode, encode byte-exact, truncations', () => {
  const [name, txid, cmd] = decodeAmf0(CONNECT);
  assert.equal(name, 'connect');
  assert.equal(txid, 1);
  assert.equal((cmd as AmfObject).app, 'live');
  assert.equal((cmd as AmfObject).tcUrl, 'rtmp://localhost:1935/live');
  assert.deepEqual(decodeAmf0(CONNECT), CONNECT_VALUES);
  assert.equal(encodeAmf0(CONNECT_VALUES).toString('hex'), CONNECT.toString('hex'));
  assertMessageTruncations(CONNECT, CONNECT_VALUES);
});

test('@setDataFrame onMetaData ECMA array: decode, encode byte-exact, truncations', () => {
  const values = decodeAmf0(SET_DATA_FRAME);
  assert.deepEqual(values, SET_DATA_FRAME_VALUES);
  assert.ok(isEcmaArray(values[2]));
  assert.equal((values[2] as AmfObject).encoder, 'Lavf60.16.100');
  assert.equal(encodeAmf0(SET_DATA_FRAME_VALUES).toString('hex'), SET_DATA_FRAME.toString('hex'));
  assertMessageTruncations(SET_DATA_FRAME, SET_DATA_FRAME_VALUES);
});

test('decodes from a SharedArrayBuffer view at an odd offset (ring slabs)', () => {
  const sab = new SharedArrayBuffer(CONNECT.length + 3);
  const view = new Uint8Array(sab, 3, CONNECT.length);
  view.set(CONNECT);
  assert.deepEqual(decodeAmf0(view), CONNECT_VALUES);
});

// --- limits -----------------------------------------------------------------

/** n objects nested through key "a": 03 0001 61 03 0001 61 ... 03 000009 000009 ... */
function nestedObjects(n: number): Buffer {
  return hex('03 0001 61'.repeat(n - 1), '03', '000009'.repeat(n));
}

test('nesting: maxDepth containers decode, one more is ERR_AMF_DEPTH', () => {
  assert.equal(DEFAULT_AMF_LIMITS.maxDepth, 32);
  assert.doesNotThrow(() => one(nestedObjects(32)));
  throwsCode(() => one(nestedObjects(33)), 'ERR_AMF_DEPTH', /maxDepth 32/);
  throwsCode(() => one(nestedObjects(5), { maxDepth: 4 }), 'ERR_AMF_DEPTH');
  const arrays = (n: number) => hex('0a 00000001'.repeat(n), '05');
  assert.doesNotThrow(() => one(arrays(32)));
  throwsCode(() => one(arrays(33)), 'ERR_AMF_DEPTH');
  // An AMF3 value behind 0x11 shares the depth budget.
  throwsCode(() => one(hex('0a 00000001'.repeat(31), '11 09 03 01 09 01 01')), 'ERR_AMF_DEPTH');
  // A depth bomb fails fast, not with a stack overflow.
  throwsCode(() => one(hex('0a 00000001'.repeat(100_000), '05')), 'ERR_AMF_DEPTH');
});

test('huge declared lengths fail before anything is allocated', () => {
  throwsCode(() => one(hex('0a ffffffff 05')), 'ERR_AMF', /exceeds maxItems 65536/);
  throwsCode(() => one(hex('0a 00001000 05')), 'ERR_AMF', /need at least 4096 bytes, have 1/);
  throwsCode(() => one(hex('0a 00000003 05 05 05'), { maxItems: 2 }), 'ERR_AMF', /maxItems 2/);
  throwsCode(() => one(hex('0c ffffffff 61')), 'ERR_AMF', /length 4294967295 exceeds maxStringBytes 1048576/);
  throwsCode(() => one(hex('0c 7fffffff 61'), { maxStringBytes: 2 ** 32 }), 'ERR_AMF', /need 2147483647 bytes, have 1/);
  throwsCode(() => one(hex('0f 00100001')), 'ERR_AMF', /maxStringBytes/);
  throwsCode(() => one(hex('02 0004 61626364'), { maxStringBytes: 3 }), 'ERR_AMF', /maxStringBytes 3/);
  throwsCode(() => one(hex('03 0001 61 05 0001 62 05 0001 63 05 000009'), { maxItems: 2 }), 'ERR_AMF', /more than maxItems 2/);
  throwsCode(() => one(hex('08 00000000 0001 61 05 0001 62 05 000009'), { maxItems: 1 }), 'ERR_AMF', /maxItems 1/);
});

test('limits are validated', () => {
  throwsCode(() => decodeAmf0(hex('05'), { maxDepth: 0 }), 'ERR_CONFIG');
  throwsCode(() => decodeAmf0(hex('05'), { maxItems: 1.5 }), 'ERR_CONFIG');
  throwsCode(() => decodeAmf0(hex('05'), { maxDepth: 5000 }), 'ERR_CONFIG');
});

// --- encoder ----------------------------------------------------------------

test('encoder: plain JS objects and arrays, repeated objects become references', () => {
  const shared = { k: 'v' };
  const buf = encodeAmf0([{ a: shared, b: shared }]);
  assert.equal(
    buf.toString('hex'),
    hex(
      '03', //                                 object (ref 0)
      '0001 61 03 0001 6b 02 0001 76 000009', // a: object (ref 1) { k: "v" }
      '0001 62 07 0001', //                    b: reference 1
      '000009',
    ).toString('hex'),
  );
  const [v] = decodeAmf0(buf) as AmfObject[];
  assert.equal(v!.a, v!.b);
  const cyc = amfObject({ name: 'self' });
  cyc.self = cyc;
  const [back] = decodeAmf0(encodeAmf0([cyc])) as AmfObject[];
  assert.equal(back!.self, back);
});

test('encoder: refuses what AMF0 cannot carry', () => {
  throwsCode(() => encodeAmf0([(() => 1) as unknown as AmfValue]), 'ERR_AMF', /function/);
  throwsCode(() => encodeAmf0([10n as unknown as AmfValue]), 'ERR_AMF', /bigint/);
  throwsCode(() => encodeAmf0([amfObject({ ['k'.repeat(70_000)]: 1 })]), 'ERR_AMF', /property name/);
  let deep: AmfValue = null;
  for (let i = 0; i < 40; i++) deep = [deep];
  throwsCode(() => encodeAmf0([deep]), 'ERR_AMF_DEPTH');
});

test('round trip of every AMF0 value kind together', () => {
  const values: AmfValue[] = [
    0, -1.25, true, false, '', 'héllo', null, undefined, new Date(0), new AmfXml('<x/>'),
    [1, [2, [3]]], amfObject({ o: amfObject({ p: [] }) }), ecmaArray({ 0: 'zero', k: 1 }),
    typedObject('T', { n: 1 }), new Uint8Array([9]), new AmfDictionary(),
  ];
  const back = decodeAmf0(encodeAmf0(values));
  assert.deepEqual(back, values);
  assert.ok(isEcmaArray(back[12]));
  assert.equal(classNameOf(back[13]), 'T');
});

// --- fuzz -------------------------------------------------------------------

test('fuzz: mutated messages decode or fail with ERR_AMF/ERR_AMF_DEPTH only', { timeout: 20_000 }, () => {
  let seed = 0x2545f491;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const corpus = [CONNECT, SET_DATA_FRAME, encodeAmf0([[1, amfObject({ a: [] })], new Uint8Array(3), new Date(5)])];
  for (let i = 0; i < 6000; i++) {
    const buf = Buffer.from(corpus[i % corpus.length]!);
    for (let m = 1 + rand(4); m > 0; m--) {
      const at = rand(buf.length);
      buf[at] = rand(3) === 0 ? [0x00, 0x07, 0x09, 0x0a, 0x11, 0xff][rand(6)]! : rand(256);
    }
    try {
      decodeAmf0(buf.subarray(0, buf.length - rand(3)));
    } catch (err) {
      assert.ok(err instanceof SluiceError, String(err));
      assert.ok(err.code === 'ERR_AMF' || err.code === 'ERR_AMF_DEPTH', err.message);
    }
  }
});

/**
 * AMF3 codec, byte by byte: one test per marker of the AMF3 spec (3.2-3.16),
 * the three reference tables (strings, objects, traits), the RTMP type 17
 * body shape, and hostile input: truncation at every offset, nesting, huge
 * declared counts, bad references, unknown markers, fuzz.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from '../../src/core/bytes.js';
import { SluiceError } from '../../src/core/errors.js';
import { Amf3Decoder, decodeAmf3 } from '../../src/protocol/amf3-decoder.js';
import { encodeAmf3 } from '../../src/protocol/amf3-encoder.js';
import { decodeAmf0 } from '../../src/protocol/amf0.js';
import {
  AmfDictionary, AmfExternalizable, AmfVector, AmfXml,
  amfObject, classNameOf, ecmaArray, isEcmaArray, traitsOf, typedObject,
  type AmfLimits, type AmfObject, type AmfValue,
} from '../../src/protocol/amf-types.js';
import { throwsCode } from '../helpers/bytes.js';

function hex(...parts: string[]): Buffer {
  return Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
}

function one(buf: Uint8Array, limits?: Partial<AmfLimits>): AmfValue {
  const dec = new Amf3Decoder(new ByteReader(buf, 0, buf.length, 'ERR_AMF'), limits);
  const v = dec.readValue();
  assert.equal(dec.reader.remaining, 0, 'value must consume the whole fixture');
  return v;
}


function assertEveryTruncationFails(buf: Buffer): void {
  for (let k = 0; k < buf.length; k++) {
    const prefix = Buffer.from(buf.subarray(0, k));
    throwsCode(() => new Amf3Decoder(new ByteReader(prefix, 0, k, 'ERR_AMF')).readValue(), 'ERR_AMF');
  }
}

/** decode(fixture) equals `expected`, encode(expected) gives the fixture back, every prefix fails. */
function roundTrip(buf: Buffer, expected: AmfValue): AmfValue {
  const v = one(buf);
  assert.deepEqual(v, expected);
  assert.equal(encodeAmf3([expected]).toString('hex'), buf.toString('hex'));
  assert.equal(encodeAmf3([v]).toString('hex'), buf.toString('hex'));
  assertEveryTruncationFails(buf);
  return v;
}

// --- one test per marker ----------------------------------------------------

test('0x00 undefined, 0x01 null, 0x02 false, 0x03 true (3.2-3.5)', () => {
  roundTrip(hex('00'), undefined);
  roundTrip(hex('01'), null);
  roundTrip(hex('02'), false);
  roundTrip(hex('03'), true);
});

test('0x04 integer: U29, signed 29-bit (1.3.1, 3.6)', () => {
  const cases: [number, string][] = [
    [0, '04 00'],
    [127, '04 7f'], //                   largest 1-byte U29
    [128, '04 81 00'], //                 1 continuation byte: 0b1_0000001 0b0_0000000
    [16383, '04 ff 7f'], //               largest 2-byte
    [16384, '04 81 80 00'],
    [2097151, '04 ff ff 7f'], //          largest 3-byte
    [2097152, '04 80 c0 80 00'], //       4th byte carries 8 bits
    [268435455, '04 bf ff ff ff'], //     largest integer, 2^28 - 1
    [-1, '04 ff ff ff ff'], //            two's complement 0x1fffffff
    [-268435456, '04 c0 80 80 00'], //    smallest integer, -2^28
  ];
  for (const [n, h] of cases) roundTrip(hex(h), n);
});

test('0x05 double, and numbers the integer type cannot hold (3.7)', () => {
  roundTrip(hex('05 3ff8000000000000'), 1.5);
  assert.equal(encodeAmf3([268435456]).toString('hex'), '0541b0000000000000'); // 2^28: out of U29 range
  assert.equal(encodeAmf3([-268435457]).toString('hex'), '05c1b0000001000000');
  assert.equal(encodeAmf3([-0]).toString('hex'), '058000000000000000'); // -0 keeps its sign
  assert.ok(Object.is(one(hex('05 8000000000000000')), -0));
});

test('0x06 string: inline, referenced, empty never referenced (1.3.2, 3.8)', () => {
  roundTrip(hex('06 0b 68656c6c6f'), 'hello'); // string marker, (5 << 1) | 1, "hello"
  roundTrip(hex('06 01'), ''); //                  empty string, always inline
  roundTrip(
    hex(
      '09 09 01', //       array, 4 dense items, no associative part
      '06 01', //          ""    (not added to the table)
      '06 03 61', //       "a"   -> string 0
      '06 01', //          ""
      '06 00', //          reference to string 0: "a"
    ),
    ['', 'a', '', 'a'],
  );
  roundTrip(hex('06 0f e282ac f09f8ea5'), '€🎥'); // (7 << 1) | 1: 7 UTF-8 bytes
  throwsCode(() => one(hex('06 02')), 'ERR_AMF', /bad string reference 1 \(table has 0\)/);
});

test('0x07 XMLDocument and 0x0B XML: U29X + UTF-8, object table (3.9, 3.13)', () => {
  roundTrip(hex('07 09 3c612f3e'), new AmfXml('<a/>', true)); //  xml-doc marker, (4 << 1) | 1, "<a/>"
  roundTrip(hex('0b 09 3c612f3e'), new AmfXml('<a/>', false)); // E4X xml marker
  const x = new AmfXml('<a/>');
  const [y, z] = roundTrip(hex('09 05 01', '07 09 3c612f3e', '07 02'), [x, x]) as AmfXml[];
  assert.equal(y, z); // 07 02: object reference 1 (the array is 0)
});

test('0x08 date: U29D 1 + DOUBLE ms, object table (3.10)', () => {
  roundTrip(hex('08 01 4278bcfe56800000'), new Date(1_700_000_000_000));
  const d = new Date(5);
  const [a, b] = roundTrip(hex('09 05 01', '08 01 4014000000000000', '08 02'), [d, d]) as Date[];
  assert.equal(a, b);
});

test('0x09 array: dense, associative (mixed) and references (3.11)', () => {
  roundTrip(hex('09 07 01 04 01 04 02 04 03'), [1, 2, 3]); // dense count 3, no assoc, 1 2 3
  roundTrip(hex('09 01 01'), []);
  const mixed = roundTrip(
    hex(
      '09 03', //       1 dense item
      '03 61 04 01', // "a": 1
      '01', //          end of associative part
      '04 02', //       [0] = 2
    ),
    ecmaArray({ a: 1, 0: 2 }),
  );
  assert.ok(isEcmaArray(mixed));
  roundTrip(hex('09 01 03 61 04 01 01'), ecmaArray({ a: 1 })); // associative only
  const self = one(hex('09 03 01 09 00')) as AmfValue[]; // [ <reference 0> ]
  assert.equal(self[0], self);
});

test('0x0A object: anonymous dynamic (3.12)', () => {
  roundTrip(
    hex(
      '0a 0b', //  object marker, U29O-traits: 0b1011 = inline, dynamic, 0 sealed
      '01', //     class name "" (anonymous)
      '03 61 04 01', // "a": 1
      '01', //     end of dynamic members
    ),
    amfObject({ a: 1 }),
  );
});

test('0x0A object: sealed typed object and trait references (3.12)', () => {
  const buf = hex(
    '09 05 01', //         array of 2
    '0a 13', //            object, inline traits: 1 sealed member, not dynamic ((1 << 4) | 0b0011)
    '07 466f6f', //        class "Foo" (string 0)
    '03 78', //            sealed member name "x" (string 1)
    '04 05', //            x = 5
    '0a 01', //            object, traits reference 0 ((0 << 2) | 0b01)
    '04 06', //            x = 6
  );
  const [a, b] = roundTrip(buf, [typedObject('Foo', { x: 5 }), typedObject('Foo', { x: 6 })]) as AmfObject[];
  assert.equal(classNameOf(a), 'Foo');
  assert.deepEqual(traitsOf(b), { className: 'Foo', sealed: ['x'], dynamic: false });
  throwsCode(() => one(hex('0a 05')), 'ERR_AMF', /bad traits reference 1 at offset 0/);
});

test('0x0A object: sealed plus dynamic members keep their traits on re-encode', () => {
  const buf = hex(
    '0a 1b', //        inline traits, dynamic, 1 sealed ((1 << 4) | 0b1011)
    '07 466f6f', //    class "Foo"
    '03 78', //        sealed "x"
    '04 05', //        x = 5
    '03 79 04 06', //  dynamic "y": 6
    '01', //           end of dynamic members
  );
  const v = one(buf);
  assert.deepEqual(v, amfObject({ x: 5, y: 6 }));
  assert.deepEqual(traitsOf(v)?.sealed, ['x']);
  assert.equal(encodeAmf3([v]).toString('hex'), buf.toString('hex'));
  assertEveryTruncationFails(buf);
});

test('0x0A object: object references and cycles', () => {
  const [o1, o2] = one(hex('09 05 01', '0a 0b 01 01', '0a 02')) as AmfObject[]; // [{}, <ref 1>]
  assert.equal(o1, o2);
  const buf = hex('0a 0b 01', '09 73656c66 0a 00', '01'); // { self: <ref 0> }
  const o = one(buf) as AmfObject;
  assert.equal(o.self, o);
  assert.equal(encodeAmf3([o]).toString('hex'), buf.toString('hex'));
  throwsCode(() => one(hex('0a 00')), 'ERR_AMF', /bad object reference 0 at offset 0 \(table has 0\)/);
});

test('0x0A object: externalizable ArrayCollection wraps one value; others are refused', () => {
  const name = Buffer.from('flex.messaging.io.ArrayCollection').toString('hex');
  const buf = hex(
    '0a 07', //     object, U29O-traits-ext (0b0111)
    '43', name, //  class name, (33 << 1) | 1
    '09 03 01 04 01', // body: its source array [1]
  );
  roundTrip(buf, new AmfExternalizable('flex.messaging.io.ArrayCollection', [1]));
  throwsCode(() => one(hex('0a 07 07 466f6f')), 'ERR_AMF', /externalizable class "Foo" at offset 0 is not supported/);
  throwsCode(() => encodeAmf3([new AmfExternalizable('Foo', 1)]), 'ERR_AMF');
});

test('0x0C ByteArray: U29B + raw bytes, an owned copy (3.14)', () => {
  const src = hex('0c 07 010203');
  const v = roundTrip(src, new Uint8Array([1, 2, 3])) as Uint8Array;
  src[2] = 0xee;
  assert.equal(v[0], 1);
  assert.ok(!Buffer.isBuffer(v));
});

test('0x0D-0x10 vectors: int, uint, double, object (3.15)', () => {
  roundTrip(hex('0d 05 00 ffffffff 00000001'), new AmfVector('int', [-1, 1])); // 2 items, not fixed, S32 -1 and 1
  roundTrip(hex('0e 03 01 ffffffff'), new AmfVector('uint', [0xffffffff], true)); // fixed, U32 max
  roundTrip(hex('0f 03 00 3ff8000000000000'), new AmfVector('double', [1.5]));
  roundTrip(hex('10 05 00 03 2a 06 03 61 04 01'), new AmfVector('object', ['a', 1])); // type "*", items "a" and 1
  roundTrip(hex('10 03 00 07 466f6f 01'), new AmfVector('object', [null], false, 'Foo')); // Vector.<Foo> [null]
  throwsCode(() => encodeAmf3([new AmfVector('int', [2 ** 31])]), 'ERR_AMF', /Vector.<int>/);
  throwsCode(() => encodeAmf3([new AmfVector('uint', [-1])]), 'ERR_AMF');
});

test('0x11 dictionary: count, weak-keys, key/value pairs (3.16)', () => {
  const d = new AmfDictionary([['k', 1]]);
  roundTrip(hex('11 03 00 06 03 6b 04 01'), d); // 1 entry, strong keys, "k" -> 1
  const weak = one(hex('11 01 01')) as AmfDictionary;
  assert.equal(weak.weakKeys, true);
  assert.equal(encodeAmf3([weak]).toString('hex'), '110101');
  const objKey = one(hex('11 03 00 0a 0b 01 01 02')) as AmfDictionary; // {} -> false
  const [[k, v]] = [...objKey];
  assert.deepEqual(k, amfObject());
  assert.equal(v, false);
});

test('unknown markers name the marker and offset', () => {
  throwsCode(() => decodeAmf3(hex('01 12')), 'ERR_AMF', /unknown marker 0x12 at offset 1/);
  throwsCode(() => decodeAmf3(hex('ff')), 'ERR_AMF', /unknown marker 0xff/);
});

// --- RTMP ---------------------------------------------------------------------

test('RTMP type 17 body: 0x00, then AMF0 values switching to AMF3', () => {
  const body = hex(
    '00', //                                 AMF3 command format byte
    '02 0007 636f6e6e656374', //             AMF0 string "connect"
    '00 3ff0000000000000', //                AMF0 number 1
    '11 0a 0b 01', //                        switch; AMF3 anonymous dynamic object
    '07 617070 06 09 6c697665', //           app: "live"
    '1d 6f626a656374456e636f64696e67 04 03', // objectEncoding: 3
    '01', //                                 end of dynamic members
  );
  assert.deepEqual(decodeAmf0(body.subarray(1)), ['connect', 1, amfObject({ app: 'live', objectEncoding: 3 })]);
});

// --- limits -------------------------------------------------------------------

test('nesting: maxDepth containers decode, one more is ERR_AMF_DEPTH', () => {
  const arrays = (n: number) => hex('09 03 01'.repeat(n), '01');
  assert.doesNotThrow(() => one(arrays(32)));
  throwsCode(() => one(arrays(33)), 'ERR_AMF_DEPTH', /maxDepth 32/);
  throwsCode(() => one(arrays(3), { maxDepth: 2 }), 'ERR_AMF_DEPTH');
  const objects = (n: number) => hex('0a 0b 01 03 61', '0a 01 00'.repeat(n - 1), '01', '01'.repeat(n)); // { a: { a: ... null } }
  assert.doesNotThrow(() => one(objects(32)));
  throwsCode(() => one(objects(33)), 'ERR_AMF_DEPTH');
  throwsCode(() => one(hex('11 03 00 01'.repeat(40), '01')), 'ERR_AMF_DEPTH'); // dictionaries { null: { null: ... } }
  throwsCode(() => one(hex('09 03 01'.repeat(100_000), '01')), 'ERR_AMF_DEPTH');
  let deep: AmfValue = 1;
  for (let i = 0; i < 33; i++) deep = [deep];
  throwsCode(() => encodeAmf3([deep]), 'ERR_AMF_DEPTH');
});

test('huge declared counts and lengths fail before anything is allocated', () => {
  throwsCode(() => one(hex('09 ff ff ff ff 01')), 'ERR_AMF', /268435455 items exceeds maxItems 65536/); // dense count 2^28-1
  throwsCode(() => one(hex('06 ff ff ff ff')), 'ERR_AMF', /length 268435455 exceeds maxStringBytes/);
  throwsCode(() => one(hex('0c ff ff ff ff')), 'ERR_AMF', /exceeds maxStringBytes/);
  throwsCode(() => one(hex('07 ff ff ff ff')), 'ERR_AMF', /exceeds maxStringBytes/);
  throwsCode(() => one(hex('0f 81 01 00 00')), 'ERR_AMF', /64 items need at least 512 bytes/); // Vector.<Number>, (64 << 1) | 1
  throwsCode(() => one(hex('11 ff ff ff ff 00')), 'ERR_AMF', /maxItems/);
  throwsCode(() => one(hex('0a ff ff ff f3')), 'ERR_AMF', /sealed members.*maxItems/); // 0x1ffffff3: inline traits, 2^25-1 sealed
  throwsCode(() => one(hex('09 07 01 01 01 01'), { maxItems: 2 }), 'ERR_AMF', /maxItems 2/);
  throwsCode(() => one(hex('0a 0b 01 03 61 01 03 62 01 01'), { maxItems: 1 }), 'ERR_AMF', /more than maxItems 1/);
  throwsCode(() => one(hex('09 01 03 61 01 03 62 01 01'), { maxItems: 1 }), 'ERR_AMF', /more than maxItems 1/);
  throwsCode(() => one(hex('06 09 61626364'), { maxStringBytes: 3 }), 'ERR_AMF', /maxStringBytes 3/);
});

// --- encoder ------------------------------------------------------------------

test('encoder: string, object and traits tables', () => {
  const a = amfObject({ name: 'x' });
  const buf = encodeAmf3([[a, a, amfObject({ name: 'x' }), 'name']]);
  assert.equal(
    buf.toString('hex'),
    hex(
      '09 09 01', //          array (object 0) of 4
      '0a 0b 01', //          object 1, inline traits 0: anonymous, dynamic
      '09 6e616d65 06 03 78', // "name" (string 0): "x" (string 1)
      '01', //                end of dynamic members
      '0a 02', //             the same object again: object reference 1
      '0a 01', //             an equal but distinct object: traits reference 0
      '00 06 02', //          "name" is string reference 0, "x" string reference 1
      '01',
      '06 00', //             "name" as a value: string reference 0
    ).toString('hex'),
  );
  const back = decodeAmf3(buf)[0] as AmfValue[];
  assert.equal(back[0], back[1]);
  assert.deepEqual(back[2], amfObject({ name: 'x' }));
});

test('encoder: refuses what AMF3 cannot carry', () => {
  throwsCode(() => encodeAmf3([(() => 1) as unknown as AmfValue]), 'ERR_AMF', /function/);
  throwsCode(() => encodeAmf3([amfObject({ '': 1 })]), 'ERR_AMF', /empty dynamic member/);
  throwsCode(() => encodeAmf3([ecmaArray({ '': 1 })]), 'ERR_AMF', /empty key/);
});

test('round trip of every AMF3 value kind together', () => {
  const dict = new AmfDictionary();
  const values: AmfValue[] = [
    undefined, null, true, false, 0, -5, 1e100, 'snow ☃', '', new Date(1), new AmfXml('<x/>', false),
    [1, ['a', 'a']], amfObject({ k: amfObject({}) }), ecmaArray({ 0: 'z', 1: 'y', key: 'v' }),
    typedObject('P', { a: 1, b: 'b' }), new Uint8Array([0, 255]), new AmfVector('double', [0.5, -2]),
    new AmfExternalizable('flex.messaging.io.ObjectProxy', amfObject({ q: 1 })), dict,
  ];
  dict.set(values[12], values[13]);
  const back = decodeAmf3(encodeAmf3(values));
  assert.deepEqual(back, values);
  assert.equal(classNameOf(back[14]), 'P');
  assert.ok(isEcmaArray(back[13]));
  assert.equal([...(back[18] as AmfDictionary).keys()][0], back[12]); // the key is the same object
});

// --- fuzz ---------------------------------------------------------------------

test('fuzz: mutated values decode or fail with ERR_AMF/ERR_AMF_DEPTH only', { timeout: 20_000 }, () => {
  let seed = 0x9e3779b9;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const d = new AmfDictionary([['k', [1]]]);
  const corpus = [
    encodeAmf3([[typedObject('Foo', { x: 1 }), typedObject('Foo', { x: 2 })], ecmaArray({ 0: 1, a: 'a' }), 'a', d]),
    encodeAmf3([new AmfVector('object', [1, 'x']), new AmfVector('int', [1, 2]), new Uint8Array(4), new Date(0)]),
    encodeAmf3([new AmfExternalizable('flex.messaging.io.ArrayCollection', ['a', amfObject({ a: 'a' })])]),
  ];
  for (let i = 0; i < 6000; i++) {
    const buf = Buffer.from(corpus[i % corpus.length]!);
    for (let m = 1 + rand(4); m > 0; m--) {
      buf[rand(buf.length)] = rand(3) === 0 ? [0x00, 0x01, 0x09, 0x0a, 0x11, 0xff][rand(6)]! : rand(256);
    }
    try {
      decodeAmf3(buf.subarray(0, buf.length - rand(3)));
    } catch (err) {
      assert.ok(err instanceof SluiceError, String(err));
      assert.ok(err.code === 'ERR_AMF' || err.code === 'ERR_AMF_DEPTH', err.message);
    }
  }
});

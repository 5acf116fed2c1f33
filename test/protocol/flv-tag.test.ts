import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  FlvDemuxer, PREV_TAG_SIZE, TAG_HEADER_SIZE, encodeTag, flvFileHeader, readTagHeader,
  writePrevTagSize, writeTagHeader, type FlvTag,
} from '../../src/protocol/flv-tag.js';
import { TagType } from '../../src/protocol/types.js';
import { hex, throwsCode } from '../helpers/bytes.js';

/** Concatenates annotated hex fields ('17', '000000', ...) into bytes. */


/**
 * Golden capture from the ffmpeg in node_modules (33 tags: onMetaData, AVC
 * and AAC sequence headers, frames, and a closing AVC end of sequence):
 *   ffmpeg -f lavfi -i testsrc=size=160x120:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
 *     -t 0.4 -c:v libx264 -pix_fmt yuv420p -g 5 -c:a aac -ac 2 -f flv test/fixtures/testsrc-160x120-aac.flv
 */
const GOLDEN = readFileSync(new URL('../../../test/fixtures/testsrc-160x120-aac.flv', import.meta.url));

const HEADER_AV = hex(
  '464c56',   // Signature 'FLV'
  '01',       // Version 1
  '05',       // TypeFlags: audio (0x04) | video (0x01)
  '00000009', // DataOffset 9
  '00000000', // PreviousTagSize0
);

/** A synthetic stream touching every path: zero-length tag, extended timestamp, all tag types. */
function syntheticStream(): { bytes: Buffer; tags: FlvTag[] } {
  const tags: FlvTag[] = [
    { type: TagType.Script, timestamp: 0, data: hex('02000a6f6e4d65746144617461', '05') },
    { type: TagType.Video, timestamp: 0, data: hex('1700000000', '0164000affe1') },
    { type: TagType.Audio, timestamp: 23, data: Buffer.alloc(0) },
    { type: TagType.Audio, timestamp: 0x01020304, data: hex('af01', 'deadbeef') },
    { type: TagType.Video, timestamp: 0xfffffffe, data: Buffer.alloc(300, 0x5a) },
  ];
  const bytes = Buffer.concat([HEADER_AV, ...tags.map((t) => encodeTag(t.type, t.timestamp, t.data))]);
  return { bytes, tags };
}

function demuxAll(chunks: Uint8Array[], opts?: { maxTagSize?: number }): FlvTag[] {
  const d = new FlvDemuxer(opts);
  const out: FlvTag[] = [];
  for (const c of chunks) out.push(...d.push(c));
  d.end();
  return out;
}

function sameTags(actual: FlvTag[], expected: FlvTag[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: tag count`);
  for (let i = 0; i < expected.length; i++) {
    assert.equal(actual[i]!.type, expected[i]!.type, `${label}: tag ${i} type`);
    assert.equal(actual[i]!.timestamp, expected[i]!.timestamp, `${label}: tag ${i} timestamp`);
    assert.ok(Buffer.from(actual[i]!.data).equals(Buffer.from(expected[i]!.data)), `${label}: tag ${i} data`);
  }
}

test('flvFileHeader: audio+video, audio only, video only', () => {
  assert.deepEqual(flvFileHeader({ audio: true, video: true }), HEADER_AV);
  assert.deepEqual(flvFileHeader({ audio: true, video: false }), hex('464c56', '01', '04', '00000009', '00000000'));
  assert.deepEqual(flvFileHeader({ audio: false, video: true }), hex('464c56', '01', '01', '00000009', '00000000'));
});

test('writeTagHeader: low 24 timestamp bits, then TimestampExtended, StreamID 0', () => {
  const dst = Buffer.alloc(TAG_HEADER_SIZE + 2, 0xee);
  const end = writeTagHeader(dst, 1, TagType.Video, 0x012345, 0x87654321);
  assert.equal(end, 1 + TAG_HEADER_SIZE);
  assert.deepEqual(dst, hex(
    'ee',       // untouched
    '09',       // Reserved 0 | Filter 0 | TagType 9 (video)
    '012345',   // DataSize
    '654321',   // Timestamp (bits 0..23)
    '87',       // TimestampExtended (bits 24..31)
    '000000',   // StreamID
    'ee',       // untouched
  ));
});

test('readTagHeader: reads back the full 32-bit timestamp', () => {
  const h = readTagHeader(hex('ff', '08', '000007', 'ffffff', '7f', '000000'), 1);
  assert.deepEqual(h, { type: 8, flags: 0, dataSize: 7, timestamp: 0x7fffffff, streamId: 0 });
  const buf = Buffer.alloc(TAG_HEADER_SIZE);
  writeTagHeader(buf, 0, TagType.Script, 0xffffff, 0xffffffff);
  assert.deepEqual(readTagHeader(buf, 0), { type: 18, flags: 0, dataSize: 0xffffff, timestamp: 0xffffffff, streamId: 0 });
});

test('writeTagHeader: DataSize beyond 24 bits is ERR_FLV', () => {
  throwsCode(() => writeTagHeader(Buffer.alloc(11), 0, TagType.Video, 0x1000000, 0), 'ERR_FLV', /24 bits/);
});

test('writePrevTagSize and encodeTag: PreviousTagSize = 11 + DataSize', () => {
  const dst = Buffer.alloc(PREV_TAG_SIZE);
  assert.equal(writePrevTagSize(dst, 0, 0x01020304), 4);
  assert.deepEqual(dst, hex('01020304'));
  assert.deepEqual(encodeTag(TagType.Audio, 1000, hex('af01', '21')), hex(
    '08', '000003', '0003e8', '00', '000000', // tag header: audio, 3 bytes, 1000 ms
    'af0121',                                 // data
    '0000000e',                               // PreviousTagSize 14
  ));
});

test('FlvDemuxer: golden ffmpeg capture, whole', () => {
  const d = new FlvDemuxer();
  const tags = d.push(GOLDEN);
  d.end();
  assert.equal(d.hasAudio, true);
  assert.equal(d.hasVideo, true);
  assert.equal(tags.length, 33);
  assert.equal(tags[0]!.type, TagType.Script);
  assert.deepEqual(Buffer.from(tags[1]!.data.subarray(0, 5)), hex('17', '00', '000000')); // AVC sequence header
  assert.deepEqual(Buffer.from(tags[2]!.data.subarray(0, 2)), hex('af', '00')); // AAC sequence header
  assert.deepEqual(Buffer.from(tags[32]!.data), hex('17', '02', '000000')); // AVC end of sequence
  assert.equal(tags[32]!.timestamp, 360);
});

test('FlvDemuxer: golden capture split at every offset yields identical tags', () => {
  const whole = demuxAll([GOLDEN]);
  for (let k = 0; k <= GOLDEN.length; k++) {
    sameTags(demuxAll([GOLDEN.subarray(0, k), GOLDEN.subarray(k)]), whole, `split at ${k}`);
  }
});

test('FlvDemuxer: synthetic stream split at every pair of offsets and byte by byte', () => {
  const { bytes, tags } = syntheticStream();
  sameTags(demuxAll([bytes]), tags, 'whole');
  for (let i = 0; i <= bytes.length; i += 7) {
    for (let j = i; j <= bytes.length; j++) {
      sameTags(demuxAll([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]), tags, `split at ${i},${j}`);
    }
  }
  sameTags(demuxAll([...bytes].map((b) => Uint8Array.of(b))), tags, 'byte by byte');
});

test('FlvDemuxer: tag data is a copy, not a view of the pushed chunk', () => {
  const { bytes } = syntheticStream();
  const chunk = Buffer.from(bytes);
  const tags = new FlvDemuxer().push(chunk);
  const before = Buffer.from(tags[4]!.data);
  chunk.fill(0);
  assert.deepEqual(Buffer.from(tags[4]!.data), before);
});

test('FlvDemuxer views: a tag inside one push is a view of it, a split tag a copy; every split yields the same tags', () => {
  const { bytes, tags } = syntheticStream();
  const chunk = Buffer.from(bytes);
  const got = new FlvDemuxer({ views: true }).push(chunk);
  sameTags(got, tags, 'whole, views');
  assert.ok(got.every((t) => t.data.length === 0 || t.data.buffer === chunk.buffer), 'every tag of a whole push is a view');
  // Split inside tag 4's data: that tag is copied, the ones wholly in either piece are views.
  const at = bytes.indexOf(Buffer.from(tags[4]!.data)) + 3;
  // Buffers of their own (not from Node's pool, which the copy could share).
  const a = Buffer.alloc(at, bytes.subarray(0, at));
  const b = Buffer.alloc(bytes.length - at, bytes.subarray(at));
  const d = new FlvDemuxer({ views: true });
  const first = d.push(a);
  const second = d.push(b);
  const split = second[0]!;
  assert.ok(split.data.buffer !== a.buffer && split.data.buffer !== b.buffer, 'the split tag is a copy');
  assert.ok(first.every((t) => t.data.length === 0 || t.data.buffer === a.buffer));
  assert.ok(second.slice(1).every((t) => t.data.length === 0 || t.data.buffer === b.buffer));
  for (let i = 0; i <= bytes.length; i += 3) {
    const d2 = new FlvDemuxer({ views: true });
    // Each tag copied as it comes, as a reader that reuses its buffer would read it.
    const copied = [bytes.subarray(0, i), bytes.subarray(i)].flatMap((c) => d2.push(c).map((t) => ({ ...t, data: Buffer.from(t.data) })));
    sameTags(copied, tags, `views, split at ${i}`);
  }
});

test('FlvDemuxer: zero-length tag completes with its header', () => {
  const d = new FlvDemuxer();
  const tags = d.push(Buffer.concat([HEADER_AV, hex('08', '000000', '000017', '00', '000000')]));
  assert.equal(tags.length, 1);
  assert.equal(tags[0]!.data.length, 0);
  assert.equal(tags[0]!.timestamp, 23);
  d.push(hex('0000000b')); // PreviousTagSize 11
  d.end();
});

test('FlvDemuxer: DataOffset above 9 skips the extra header bytes', () => {
  const tags = demuxAll([hex('464c56', '01', '01', '0000000c', 'aabbcc', '00000000'), encodeTag(TagType.Video, 5, hex('2701'))]);
  assert.equal(tags.length, 1);
  assert.equal(tags[0]!.timestamp, 5);
});

test('FlvDemuxer: bad signature is ERR_FLV', () => {
  throwsCode(() => new FlvDemuxer().push(Buffer.from('HTTP/1.1 404 Not Found\r\n')), 'ERR_FLV', /bad FLV signature 485454/);
});

test('FlvDemuxer: bad signature split across pushes is still caught', () => {
  const d = new FlvDemuxer();
  d.push(hex('464c'));
  throwsCode(() => d.push(hex('58', '01', '05', '00000009')), 'ERR_FLV', /signature 464c58/);
});

test('FlvDemuxer: unsupported version and DataOffset below 9', () => {
  throwsCode(() => new FlvDemuxer().push(hex('464c56', '02', '05', '00000009')), 'ERR_FLV', /version 2/);
  throwsCode(() => new FlvDemuxer().push(hex('464c56', '01', '05', '00000008')), 'ERR_FLV', /DataOffset 8/);
});

test('FlvDemuxer: PreviousTagSize0 must be 0', () => {
  throwsCode(() => new FlvDemuxer().push(hex('464c56', '01', '05', '00000009', '00000001')), 'ERR_FLV', /PreviousTagSize 1, expected 0 \(at stream offset 9\)/);
});

test('FlvDemuxer: PreviousTagSize after a tag must be 11 + DataSize', () => {
  const tag = encodeTag(TagType.Audio, 0, hex('af01', '00'));
  tag.writeUInt32BE(14, tag.length - 4); // should be 11 + 3 = 14: correct
  demuxAll([HEADER_AV, tag]);
  tag.writeUInt32BE(15, tag.length - 4);
  throwsCode(() => demuxAll([HEADER_AV, tag]), 'ERR_FLV', /PreviousTagSize 15, expected 14 \(at stream offset 27\)/);
});

test('FlvDemuxer: oversized tag is refused at its header, before the data arrives', () => {
  const d = new FlvDemuxer({ maxTagSize: 100 });
  d.push(HEADER_AV);
  d.push(hex('09', '000064', '000000', '00', '000000')); // DataSize 100: at the limit, fine
  d.push(Buffer.alloc(100));
  d.push(hex('0000006f'));
  throwsCode(() => d.push(hex('09', '000065', '000000', '00', '000000')), 'ERR_FLV', /DataSize 101 exceeds limit 100/);
});

test('FlvDemuxer: unknown TagType, Filter bit and StreamID are ERR_FLV', () => {
  throwsCode(() => new FlvDemuxer().push(Buffer.concat([HEADER_AV, hex('07', '000001', '000000', '00', '000000')])), 'ERR_FLV', /unknown TagType 7/);
  throwsCode(() => new FlvDemuxer().push(Buffer.concat([HEADER_AV, hex('29', '000001', '000000', '00', '000000')])), 'ERR_FLV', /Filter/);
  throwsCode(() => new FlvDemuxer().push(Buffer.concat([HEADER_AV, hex('09', '000001', '000000', '00', '000001')])), 'ERR_FLV', /StreamID 1/);
});

test('FlvDemuxer: after an error every push rethrows it', () => {
  const d = new FlvDemuxer();
  throwsCode(() => d.push(hex('000000000000000000')), 'ERR_FLV', /signature/);
  throwsCode(() => d.push(HEADER_AV), 'ERR_FLV', /signature/);
});

test('FlvDemuxer: end() inside a tag or a header is ERR_FLV', () => {
  const { bytes } = syntheticStream();
  const d = new FlvDemuxer();
  d.push(bytes.subarray(0, bytes.length - 10));
  throwsCode(() => d.end(), 'ERR_FLV', /stream ends inside tag data/);
  const e = new FlvDemuxer();
  e.push(hex('464c56'));
  throwsCode(() => e.end(), 'ERR_FLV', /stream ends inside header/);
  throwsCode(() => new FlvDemuxer().end(), 'ERR_FLV', /stream ends inside header/);
});

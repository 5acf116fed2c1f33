// The frame marker (loadtest/marker.ts): 40 bytes, magic + fields + FNV-1a check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMarker, encodeMarker, findMarker, MARKER_MAGIC, MARKER_SIZE, MarkerKind, writeMarker, type Marker } from '../../loadtest/marker.js';
import { SyntheticSource } from '../../loadtest/synthetic-media.js';
import { writeFileSync } from 'node:fs';
import { FileSource, readFlvTags } from '../../loadtest/file-source.js';
import { encodeTag, flvFileHeader } from '../../src/protocol/flv-tag.js';
import { tmpFile } from '../helpers/ffmpeg.js';

const M: Marker = { kind: MarkerKind.Video, stream: 7, seq: 123456, scheduledMs: 1_763_000_000_123.456 };

test('encode/decode round trip, every field', () => {
  const b = encodeMarker(M);
  assert.equal(b.length, MARKER_SIZE);
  assert.deepEqual(b.subarray(0, 16), MARKER_MAGIC);
  assert.equal(b[16], 1, 'version');
  assert.equal(b[17], 0, 'kind video');
  assert.equal(b.readUInt32BE(20), 7, 'stream');
  assert.equal(b.readUInt32BE(24), 123456, 'seq');
  assert.equal(b.readDoubleBE(28), M.scheduledMs, 'scheduled ms, f64');
  assert.deepEqual(decodeMarker(b), M);
  const audio = { ...M, kind: MarkerKind.Audio, seq: 0xffffffff };
  assert.deepEqual(decodeMarker(encodeMarker(audio)), audio);
});

test('found inside a payload at any offset, and in a view with a byteOffset', () => {
  for (const at of [0, 1, 12, 999]) {
    const payload = Buffer.alloc(at + MARKER_SIZE + 17, 0x5a);
    writeMarker(payload, at, M);
    assert.deepEqual(findMarker(payload), M, `at ${at}`);
    const view = new Uint8Array(payload.buffer, payload.byteOffset, payload.length);
    assert.deepEqual(findMarker(view), M);
  }
});

test('a magic with a bad check before the real marker is skipped', () => {
  const payload = Buffer.alloc(200, 0);
  writeMarker(payload, 10, { ...M, seq: 1 });
  payload[10 + 30] ^= 0xff; // corrupt the scheduled time: the check no longer matches
  writeMarker(payload, 100, M);
  assert.deepEqual(findMarker(payload), M);
});

test('garbage is rejected', () => {
  assert.equal(findMarker(Buffer.alloc(0)), undefined);
  assert.equal(findMarker(Buffer.alloc(4096, 0xa5)), undefined);
  const b = encodeMarker(M);
  assert.equal(decodeMarker(b.subarray(0, MARKER_SIZE - 1)), undefined, 'truncated');
  assert.equal(findMarker(b.subarray(0, MARKER_SIZE - 1)), undefined, 'truncated, searched');
  for (const [i, why] of [[0, 'magic'], [16, 'version'], [22, 'stream'], [26, 'seq'], [37, 'check']] as const) {
    const bad = Buffer.from(b);
    bad[i] ^= 0x01;
    assert.equal(decodeMarker(bad), undefined, why);
  }
  // A well-formed marker (valid check) of a kind this version does not know.
  const future = Buffer.alloc(MARKER_SIZE);
  writeMarker(future, 0, { ...M, kind: 9 as MarkerKind });
  assert.equal(decodeMarker(future), undefined, 'unknown kind');
});

test('synthetic video and audio frames carry a findable marker with their seq and scheduled time', () => {
  const src = new SyntheticSource({ stream: 3, bitrateKbps: 1000, fps: 25, gop: 25, audio: true });
  const seen = { video: [] as number[], audio: [] as number[] };
  for (let i = 0; i < 80; i++) {
    const due = 1_000_000 + src.nextOffsetMs();
    const m = src.take(due);
    const mk = findMarker(m.payload)!;
    assert.ok(mk, `frame ${i} has a marker`);
    assert.equal(mk.stream, 3);
    assert.equal(mk.scheduledMs, due);
    assert.equal(m.type, mk.kind === MarkerKind.Video ? 9 : 8);
    (mk.kind === MarkerKind.Video ? seen.video : seen.audio).push(mk.seq);
  }
  assert.deepEqual(seen.video, seen.video.map((_, i) => i), 'video seqs 0, 1, 2, ...');
  assert.deepEqual(seen.audio, seen.audio.map((_, i) => i), 'audio seqs 0, 1, 2, ...');
});

test('a replayed FLV file gets an SEI marker in each H.264 frame', () => {
  const src = new FileSource(new URL('../../../test/fixtures/testsrc-160x120-aac.flv', import.meta.url).pathname, 5);
  assert.ok(src.headers.length >= 2, 'metadata and sequence headers');
  let marked = 0;
  for (let i = 0; i < 50; i++) {
    const m = src.take(i);
    const mk = findMarker(m.payload);
    if (m.type === 9 && m.payload[1] === 1) {
      assert.ok(mk, 'H.264 frame marked');
      assert.equal(mk.stream, 5);
      assert.equal(mk.seq, marked++);
      // The 5-byte AVC header is kept, the SEI NALU follows it: 4-byte length, then nal type 6.
      assert.equal(m.payload[9]! & 0x1f, 6);
    } else {
      assert.equal(mk, undefined, 'audio and AVC end-of-sequence go out unmarked');
    }
  }
  assert.ok(marked > 0);
});

test('a replayed FLV file keeps its mid-stream sequence-header change in place, and restores the first header at each loop', () => {
  const fixture = new URL('../../../test/fixtures/testsrc-160x120-aac.flv', import.meta.url).pathname;
  const { tags } = readFlvTags(fixture);
  const isVseq = (type: number, d: Uint8Array): boolean => type === 9 && d[1] === 0;
  const vseq = tags.find((t) => isVseq(t.type, t.data))!.data;
  const changed = Buffer.from(vseq);
  changed[changed.length - 1] ^= 0xff; // another configuration, as far as a replay can tell
  // Audio and video frames: not script data, sequence headers (xx 00) or AVC end of sequence (17 02).
  const frames = tags.filter((t) => t.type !== 18 && t.data[1] !== 0 && !(t.type === 9 && t.data[1] === 2));
  const span = frames.at(-1)!.timestamp + 40;
  // The clip, then the changed header and the clip's frames again after it.
  const file = tmpFile('header-change.flv');
  writeFileSync(file, Buffer.concat([
    flvFileHeader({ audio: true, video: true }),
    ...tags.map((t) => encodeTag(t.type, t.timestamp, t.data)),
    encodeTag(9, span, changed),
    ...frames.map((t) => encodeTag(t.type, t.timestamp + span, t.data)),
  ]));
  const src = new FileSource(file, 1);
  assert.ok(src.headers.some((h) => isVseq(h.type, h.payload) && Buffer.from(h.payload).equals(vseq)), 'the first header opens the stream');
  const perLoop = 2 * frames.length + 2; // both runs, the changed header, the first one restored
  const sent = Array.from({ length: 2 * perLoop }, (_, i) => src.take(i));
  const headers = sent.flatMap((m, i) => (isVseq(m.type, m.payload) ? [{ i, first: Buffer.from(m.payload).equals(vseq), ts: m.timestamp }] : []));
  assert.deepEqual(headers.map((h) => h.first), [true, false, true, false], 'per loop: the first header restored, then the change');
  assert.equal(headers[0]!.i, 0, 'the first loop starts with the first header');
  assert.equal(headers[1]!.i, 1 + frames.length, 'the change after the first run of frames');
  assert.equal(headers[2]!.i, perLoop, 'the next loop restores the first header before its frames');
  for (let i = 1; i < sent.length; i++) assert.ok(sent[i]!.timestamp >= sent[i - 1]!.timestamp, `timestamps never go back (#${i})`);
});

/**
 * A clip's own FLV tags as the reference for what players received, by
 * payload bytes (FlvDemuxer over the file): the two sequence headers, and
 * the video and audio frames, so a received run can be located in the clip.
 *
 *   video tag  17|27  01|00|02  cts(3) ...   key|inter, NALUs|sequence header|end of sequence
 *   audio tag  af     01|00     ...          AAC raw|AudioSpecificConfig
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FlvDemuxer } from '../../src/protocol/flv-tag.js';
import type { Clip } from './ffmpeg.js';
import type { FlvCollector, FlvTag } from './flv-collector.js';

export type TagKind = 'meta' | 'data' | 'vseq' | 'aseq' | 'key' | 'inter' | 'eos' | 'audio';

export interface ClipTag {
  type: number;
  ts: number;
  kind: TagKind;
  data: Buffer;
}

/** AMF0 string "onMetaData": marker 02, length 000a, then the name. */
const ON_METADATA = Buffer.from([0x02, 0x00, 0x0a, ...Buffer.from('onMetaData')]);

export function kindOf(type: number, d: Buffer): TagKind {
  if (type === 9) return d[1] === 0 ? 'vseq' : d[1] === 2 ? 'eos' : d[0]! >> 4 === 1 ? 'key' : 'inter';
  if (type === 8) return d[1] === 0 ? 'aseq' : 'audio';
  return d.subarray(0, ON_METADATA.length).equals(ON_METADATA) ? 'meta' : 'data';
}

export const isFrame = (t: ClipTag): boolean => t.kind === 'key' || t.kind === 'inter';

export interface ClipReference {
  vseq: Buffer;
  aseq: Buffer;
  video: ClipTag[];
  audio: ClipTag[];
}

export function readClip(clip: Clip): ClipReference {
  const demux = new FlvDemuxer();
  const tags = demux.push(readFileSync(clip.file)).map((t): ClipTag => {
    const data = Buffer.from(t.data);
    return { type: t.type, ts: t.timestamp, kind: kindOf(t.type, data), data };
  });
  demux.end();
  const vseq = tags.find((t) => t.kind === 'vseq')?.data;
  const aseq = tags.find((t) => t.kind === 'aseq')?.data;
  assert.ok(vseq && aseq, 'the clip has both sequence headers');
  return { vseq, aseq, video: tags.filter(isFrame), audio: tags.filter((t) => t.kind === 'audio') };
}

/** Where `recv` sits in `ref` as one contiguous run (payload bytes): the first start that matches all of it and passes `startOk`. */
export function findRun(recv: ClipTag[], ref: ClipTag[], what: string, startOk: (t: ClipTag) => boolean): number {
  assert.ok(recv.length > 0, `${what}: nothing received`);
  let best = { start: -1, n: -1 };
  for (let s = 0; s < ref.length; s++) {
    if (!ref[s]!.data.equals(recv[0]!.data)) continue;
    let n = 1;
    while (n < recv.length && s + n < ref.length && ref[s + n]!.data.equals(recv[n]!.data)) n++;
    if (n === recv.length && startOk(ref[s]!)) return s;
    if (n > best.n) best = { start: s, n };
  }
  assert.ok(best.start >= 0, `${what}: first received tag (${recv[0]!.data.length} bytes, ts ${recv[0]!.ts}) is not in the clip`);
  assert.fail(
    best.n === recv.length
      ? `${what}: the received run starts at clip #${best.start}, which is not a keyframe`
      : `${what}: received #0..#${best.n - 1} match clip #${best.start}.. but received #${best.n} ` +
          `(${recv[best.n]?.data.length} bytes, ts ${recv[best.n]?.ts}) is not clip #${best.start + best.n}`,
  );
}

export const tagOf = (t: { type: number; ts: number; data: Buffer }): ClipTag => ({ type: t.type, ts: t.ts, kind: kindOf(t.type, t.data), data: t.data });

/**
 * An FLV player's tags: onMetaData, the clip's video and audio sequence
 * headers byte for byte, then (nothing of those again) per track one
 * contiguous run of the clip's frames, the video run from a keyframe, video
 * timestamps spaced exactly as the clip's and audio ones never going back.
 */
export function assertFlvClipRun(tags: FlvTag[], ref: ClipReference, what: string): { video: number; audio: number; frames: number } {
  const all = tags.map(tagOf);
  assert.deepEqual(all.slice(0, 3).map((t) => t.kind), ['meta', 'vseq', 'aseq'], `${what}: first tags`);
  assert.ok(all[1]!.data.equals(ref.vseq), `${what}: AVC sequence header differs from the clip's`);
  assert.ok(all[2]!.data.equals(ref.aseq), `${what}: AAC sequence header differs from the clip's`);
  const rest = all.slice(3);
  const stray = rest.find((t) => t.kind === 'vseq' || t.kind === 'aseq' || t.kind === 'meta' || t.kind === 'eos');
  assert.equal(stray, undefined, `${what}: ${stray?.kind} after the start`);
  const video = rest.filter(isFrame);
  const audio = rest.filter((t) => t.kind === 'audio');
  assert.equal(video[0]?.kind, 'key', `${what}: the first video frame is a keyframe`);
  const v = findRun(video, ref.video, `${what} video`, (t) => t.kind === 'key');
  const a = findRun(audio, ref.audio, `${what} audio`, () => true);
  for (let i = 1; i < video.length; i++) {
    const got = video[i]!.ts - video[0]!.ts;
    const want = ref.video[v + i]!.ts - ref.video[v]!.ts;
    assert.equal(got, want, `${what} video #${i}: ${got} ms after the first frame, the clip has ${want} ms`);
  }
  for (let i = 1; i < audio.length; i++) {
    assert.ok(audio[i]!.ts >= audio[i - 1]!.ts, `${what} audio: timestamp goes back from ${audio[i - 1]!.ts} to ${audio[i]!.ts} at #${i}`);
  }
  return { video: v, audio: a, frames: video.length };
}


/**
 * What an FLV player must see first (flv.js, mpegts.js, librtmp's files):
 * 'FLV' v1, TypeFlags audio|video (05), DataOffset 9, PreviousTagSize0 0;
 * then onMetaData, the video and the audio sequence header, all at 0.
 */
export function assertFlvOpening(flv: FlvCollector, what: string): void {
  const b = flv.bytes();
  assert.ok(b.length >= 13, `${what}: ${b.length} bytes, no FLV header`);
  assert.equal(b.subarray(0, 4).toString('latin1'), 'FLV\x01', `${what}: signature and version`);
  assert.equal(b[4], 0x05, `${what}: TypeFlags 0x${b[4]!.toString(16)}, want 05 (audio and video)`);
  assert.equal(b.readUInt32BE(5), 9, `${what}: DataOffset`);
  assert.equal(b.readUInt32BE(9), 0, `${what}: PreviousTagSize0`);
  const first = flv.tags.slice(0, 3).map((t) => `${kindOf(t.type, t.data)}@${t.ts}`);
  assert.deepEqual(first, ['meta@0', 'vseq@0', 'aseq@0'], `${what}: first tags (kind@timestamp)`);
}

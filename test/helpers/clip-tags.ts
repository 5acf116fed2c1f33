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

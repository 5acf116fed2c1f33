/**
 * Replay of an FLV file, looping, on the same wall-clock schedule as the
 * synthetic source: tag k of loop L is due at start + L * loopMs + (its
 * timestamp - the first one's). Its onMetaData and first sequence headers
 * are sent once after publish; every H.264 frame (AVC NALU packet) gets a
 * SEI marker NALU inserted before its own NALUs. Audio and other codecs
 * go out unmarked, so latency and gaps are measured on H.264 video only.
 * End-of-sequence tags are left out: a loop goes on, the stream does not end.
 */
import { readFileSync, statSync } from 'node:fs';
import { SluiceError } from '../src/core/errors.js';
import { FlvDemuxer, type FlvTag } from '../src/protocol/flv-tag.js';
import { TagType } from '../src/protocol/types.js';
import { MarkerKind } from './marker.js';
import {
  isAacSequenceHeader,
  isAvcNalus,
  isVideoEndOfSequence,
  isVideoSequenceHeader,
  SEI_MARKER_SIZE,
  setDataFrame,
  writeSeiMarker,
  type MediaSource,
  type OutMessage,
} from './media-source.js';

/** Files are read whole: bound what that may cost. */
export const MAX_FILE_BYTES = 1024 * 1024 * 1024;
/** Loop length padding when the file has no video to tell a frame interval from. */
const DEFAULT_FRAME_MS = 40;

interface ReplayTag {
  type: 8 | 9;
  offsetMs: number;
  data: Uint8Array;
  /** An AVC NALU packet: gets a marker. */
  marked: boolean;
}

export function readFlvTags(path: string): { tags: FlvTag[]; hasAudio: boolean; hasVideo: boolean } {
  const size = statSync(path).size;
  if (size > MAX_FILE_BYTES) throw new SluiceError('ERR_CONFIG', `--file ${path}: ${size} bytes, more than the ${MAX_FILE_BYTES} read whole`);
  const demux = new FlvDemuxer({ maxTagSize: 16 * 1024 * 1024 });
  const tags = demux.push(readFileSync(path));
  demux.end();
  return { tags, hasAudio: demux.hasAudio, hasVideo: demux.hasVideo };
}

export class FileSource implements MediaSource {
  readonly headers: readonly OutMessage[];
  readonly loopMs: number;
  private readonly tags: ReplayTag[];
  private readonly scratch: Buffer;
  private next = 0;
  private loop = 0;
  private videoSeq = 0;

  constructor(
    path: string,
    private readonly stream: number,
  ) {
    const { tags } = readFlvTags(path);
    const headers: OutMessage[] = [];
    const have = new Set<string>();
    const once = (what: string, m: OutMessage): void => {
      if (have.has(what)) return;
      have.add(what);
      headers.push(m);
    };
    const media: FlvTag[] = [];
    // The first sequence header of each track opens the stream; a later one that differs (a mid-stream
    // resolution or codec change) is replayed in-band where the file has it.
    const lastHeader = new Map<number, Uint8Array>();
    const firstHeaders: FlvTag[] = [];
    for (const t of tags) {
      const header = (t.type === TagType.Video && isVideoSequenceHeader(t.data)) || (t.type === TagType.Audio && isAacSequenceHeader(t.data));
      if (t.type === TagType.Script) once('meta', { type: TagType.Script, timestamp: 0, payload: setDataFrame(t.data) });
      else if (header) {
        const last = lastHeader.get(t.type);
        if (!last) {
          once(t.type === TagType.Video ? 'video' : 'audio', { type: t.type as 8 | 9, timestamp: 0, payload: t.data });
          firstHeaders.push(t);
        } else if (!Buffer.from(last).equals(t.data)) media.push(t);
        lastHeader.set(t.type, t.data);
      } else if (t.type === TagType.Audio || (t.type === TagType.Video && !isVideoEndOfSequence(t.data))) media.push(t);
    }
    // Tag order by timestamp (a muxer may write the last tags out of order), so every track stays monotonic.
    media.sort((a, b) => a.timestamp - b.timestamp);
    // Metadata first, then sequence headers, as encoders send them.
    this.headers = headers.sort((a, b) => (a.type === TagType.Script ? -1 : b.type === TagType.Script ? 1 : 0));
    if (!media.some((t) => t.type === TagType.Video && isAvcNalus(t.data))) {
      throw new SluiceError('ERR_CONFIG', `--file ${path}: no H.264 (AVC) video frames to carry latency markers`);
    }
    const first = media[0]!.timestamp;
    // A file whose headers changed ends with the last ones in force: each loop starts by restoring the first.
    const changed = firstHeaders.filter((h) => !Buffer.from(lastHeader.get(h.type)!).equals(h.data));
    const loopHead = changed.map((h) => ({ ...h, timestamp: first }));
    this.tags = [...loopHead, ...media].map((t) => ({ type: t.type as 8 | 9, offsetMs: t.timestamp - first, data: t.data, marked: t.type === TagType.Video && isAvcNalus(t.data) }));
    const video = this.tags.filter((t) => t.type === TagType.Video);
    const last = this.tags[this.tags.length - 1]!.offsetMs; // the largest: sorted
    const frameMs = video.length > 1 ? (video[video.length - 1]!.offsetMs - video[0]!.offsetMs) / (video.length - 1) : DEFAULT_FRAME_MS;
    this.loopMs = last + Math.max(1, frameMs || DEFAULT_FRAME_MS);
    this.scratch = Buffer.allocUnsafe(this.tags.reduce((m, t) => Math.max(m, t.data.length), 0) + SEI_MARKER_SIZE);
  }

  nextOffsetMs(): number {
    return this.loop * this.loopMs + this.tags[this.next]!.offsetMs;
  }

  take(scheduledMs: number): OutMessage {
    const t = this.tags[this.next]!;
    const timestamp = Math.round(this.nextOffsetMs());
    if (++this.next === this.tags.length) {
      this.next = 0;
      this.loop++;
    }
    if (!t.marked) return { type: t.type, timestamp, payload: t.data };
    // 5-byte AVC video header, the SEI marker NALU, then the frame's own NALUs.
    const out = this.scratch.subarray(0, t.data.length + SEI_MARKER_SIZE);
    out.set(t.data.subarray(0, 5), 0);
    const at = writeSeiMarker(out, 5, { kind: MarkerKind.Video, stream: this.stream, seq: this.videoSeq++, scheduledMs });
    out.set(t.data.subarray(5), at);
    return { type: TagType.Video, timestamp, payload: out };
  }
}

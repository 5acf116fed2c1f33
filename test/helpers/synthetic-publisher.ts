/**
 * A synthetic encoder on a publishing RtmpClient: onMetaData and both
 * sequence headers, then video frame n at n * frameMs and (unless
 * video-only) audio frame n half a frame later, each carrying its counter
 * (see synthetic-media.ts). Everything sent is kept as players must
 * receive it, for byte-exact comparison.
 */
import type { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import type { AmfValue } from '../../src/protocol/amf-types.js';
import {
  AAC_SEQUENCE_HEADER,
  AVC_SEQUENCE_HEADER,
  META,
  SET_DATA_FRAME_BYTES,
  VIDEO_ONLY_META,
  audioFrame,
  videoFrame,
} from './synthetic-media.js';

export interface PublisherOptions {
  /** Video frames per GOP: a keyframe when i % gop === 0, i counted from 0 for this publisher (default 10). */
  gop?: number;
  /** Default 40. */
  frameMs?: number;
  /** Default 64. */
  videoBytes?: number;
  /** Default 16. */
  audioBytes?: number;
  /** Added to every frame counter, to tell publishers and republishes apart (default 0). */
  counterBase?: number;
  /** false: video only (default true). */
  audio?: boolean;
  /** Timestamp of frame 0 and the headers (default 0); timestamps wrap at 2^32 as RTMP's do. */
  startTs?: number;
}

/** A tag as sent (timestamps are the publisher's), with the counter it carries (-1 for headers). */
export interface SentTag {
  type: number;
  ts: number;
  data: Buffer;
  n: number;
  key: boolean;
}

export class SyntheticPublisher {
  /** Frames sent so far (the next frame's index). */
  i = 0;
  /** Media frames sent, in order (metadata and sequence headers not included). */
  readonly frames: SentTag[] = [];
  /** Everything sent as players must receive it: onMetaData (unwrapped), sequence headers, frames. */
  readonly sent: SentTag[] = [];
  /** The onMetaData body players get (the @setDataFrame wrapper sliced off), once headers() ran. */
  onMetaData: Buffer | undefined;
  readonly gop: number;
  readonly frameMs: number;
  /** Size of the next video frames; may change mid-stream. */
  videoBytes: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly c: RtmpClient,
    readonly o: PublisherOptions = {},
  ) {
    this.gop = o.gop ?? 10;
    this.frameMs = o.frameMs ?? 40;
    this.videoBytes = o.videoBytes ?? 64;
  }

  /** @setDataFrame onMetaData + sequence headers (no AAC one when video-only); returns the data message payload sent. */
  headers(meta: Record<string, AmfValue> = this.o.audio === false ? VIDEO_ONLY_META : META): Buffer {
    const t0 = this.o.startTs ?? 0;
    const setDataFrame = this.c.setDataFrame(meta, t0);
    this.onMetaData = setDataFrame.subarray(SET_DATA_FRAME_BYTES);
    this.c.sendMedia(9, t0, AVC_SEQUENCE_HEADER);
    this.sent.push(
      { type: 18, ts: t0, data: this.onMetaData, n: -1, key: false },
      { type: 9, ts: t0, data: AVC_SEQUENCE_HEADER, n: -1, key: false },
    );
    if (this.o.audio !== false) {
      this.c.sendMedia(8, t0, AAC_SEQUENCE_HEADER);
      this.sent.push({ type: 8, ts: t0, data: AAC_SEQUENCE_HEADER, n: -1, key: false });
    }
    return setDataFrame;
  }

  /** The counter the next video frame will carry. */
  get nextN(): number {
    return (this.o.counterBase ?? 0) + this.i;
  }

  frame(): void {
    const n = this.nextN;
    const key = this.i % this.gop === 0;
    const ts = ((this.o.startTs ?? 0) + this.i * this.frameMs) >>> 0;
    const v: SentTag = { type: 9, ts, data: videoFrame(n, key, this.videoBytes), n, key };
    this.c.sendMedia(9, v.ts, v.data);
    this.record(v);
    if (this.o.audio !== false) {
      const a: SentTag = { type: 8, ts: (ts + Math.floor(this.frameMs / 2)) >>> 0, data: audioFrame(n, this.o.audioBytes ?? 16), n, key: false };
      this.c.sendMedia(8, a.ts, a.data);
      this.record(a);
    }
    this.i++;
  }

  send(count: number): void {
    for (let k = 0; k < count; k++) this.frame();
  }

  /** The bytes of video frame `n` as sent. */
  videoData(n: number): Buffer | undefined {
    return this.frames.find((f) => f.type === 9 && f.n === n)?.data;
  }

  /** Real time: one frame every frameMs until stop() or the client closes. */
  start(): this {
    this.timer ??= setInterval(() => (this.c.isClosed ? this.stop() : this.frame()), this.frameMs);
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private record(t: SentTag): void {
    this.frames.push(t);
    this.sent.push(t);
  }
}

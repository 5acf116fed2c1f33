/**
 * What an RtmpClient received, in arrival order: media (classified, with
 * the synthetic frame counter it carries), NetStream statuses, user control
 * events and the close, each stamped with Date.now() on arrival.
 */
import type { RtmpClient, MediaMessage } from '../../src/rtmp/client/rtmp-client.js';
import { decodeAmf0 } from '../../src/protocol/amf0.js';
import type { AmfValue } from '../../src/protocol/amf-types.js';
import { counterOf } from './synthetic-media.js';
import { waitFor } from './net.js';

export type Kind = 'meta' | 'sampleAccess' | 'data' | 'vseq' | 'aseq' | 'key' | 'inter' | 'audio';

export interface MediaEntry {
  what: 'media';
  kind: Kind;
  type: number;
  ts: number;
  /** Frame counter (-1 for headers and data). */
  n: number;
  data: Buffer;
  streamId: number;
  at: number;
}

export interface StatusEntry {
  what: 'status';
  code: string;
  level: string;
  streamId: number;
  at: number;
}

export type Entry = MediaEntry | StatusEntry | { what: 'uc'; event: string; time?: number } | { what: 'close'; error?: string };

export function classify(m: MediaMessage): MediaEntry {
  const p = m.payload;
  let kind: Kind = 'data';
  if (m.type === 9) {
    kind = p[1] === 0 ? 'vseq' : p[0]! >> 4 === 1 ? 'key' : 'inter';
  } else if (m.type === 8) {
    kind = p[1] === 0 ? 'aseq' : 'audio';
  } else if (m.type === 18) {
    let first: AmfValue;
    try {
      first = decodeAmf0(p)[0];
    } catch {
      first = undefined;
    }
    kind = first === 'onMetaData' ? 'meta' : first === '|RtmpSampleAccess' ? 'sampleAccess' : 'data';
  }
  const n = kind === 'key' || kind === 'inter' || kind === 'audio' ? counterOf({ type: m.type, data: p }) : -1;
  return { what: 'media', kind, type: m.type, ts: m.timestamp, n, data: p, streamId: m.streamId, at: Date.now() };
}

export const isFrame = (e: MediaEntry): boolean => e.kind === 'key' || e.kind === 'inter' || e.kind === 'audio';
export const isVideoFrame = (e: MediaEntry): boolean => e.kind === 'key' || e.kind === 'inter';

export class Recorder {
  readonly log: Entry[] = [];
  closed = false;

  constructor(readonly c: RtmpClient) {
    c.on('media', (m) => this.log.push(classify(m)));
    c.on('status', (s) => this.log.push({ what: 'status', code: s.code, level: s.level, streamId: s.streamId, at: Date.now() }));
    c.on('userControl', (uc) => this.log.push({ what: 'uc', event: uc.event, ...('time' in uc ? { time: uc.time } : {}) }));
    c.on('close', (err) => {
      this.closed = true;
      this.log.push({ what: 'close', ...(err ? { error: err.message } : {}) });
    });
  }

  /** Media entries from log index `from`, without |RtmpSampleAccess. */
  media(from = 0): MediaEntry[] {
    return this.log.slice(from).filter((e): e is MediaEntry => e.what === 'media' && e.kind !== 'sampleAccess');
  }

  video(from = 0): MediaEntry[] {
    return this.media(from).filter(isVideoFrame);
  }

  audio(from = 0): MediaEntry[] {
    return this.media(from).filter((e) => e.kind === 'audio');
  }

  statusIndex(code: string): number {
    return this.log.findIndex((e) => e.what === 'status' && e.code === code);
  }

  /** The first status `code` received, if any. */
  statusEntry(code: string): StatusEntry | undefined {
    return this.log.find((e): e is StatusEntry => e.what === 'status' && e.code === code);
  }

  /** Waits for status `code`; resolves with its log index. */
  async status(code: string, ms = 3000): Promise<number> {
    await waitFor(() => this.statusIndex(code) >= 0, ms, `status ${code}`, 5);
    return this.statusIndex(code);
  }

  /** Log index of the PingResponse carrying `time`. */
  pingResponseIndex(time: number): number {
    return this.log.findIndex((e) => e.what === 'uc' && e.event === 'PingResponse' && e.time === time);
  }

  hasVideo(n: number): boolean {
    return this.log.some((e) => e.what === 'media' && isVideoFrame(e) && e.n === n);
  }

  hasAudio(n: number): boolean {
    return this.log.some((e) => e.what === 'media' && e.kind === 'audio' && e.n === n);
  }

  /** Waits until video and audio frame `n` are both in. */
  async frame(n: number, ms = 3000): Promise<void> {
    await waitFor(() => this.hasVideo(n) && this.hasAudio(n), ms, `frame ${n} (video and audio)`, 5);
  }
}

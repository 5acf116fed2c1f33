/**
 * What one player makes of the tags it receives: metadata and sequence
 * headers seen, and for each marked frame its stream, its place in the
 * sequence (gaps, reorders) and its latency from the *scheduled* send time.
 *
 * Frames scheduled before the player asked to play come from the server's
 * GOP cache: they arrive in a burst, late by design, so they are counted
 * (`cachedFrames`) and sequence-checked but their latency is not recorded;
 * time to first frame covers that start-up instead.
 */
import { findMarker, MarkerKind } from './marker.js';
import { TagType } from '../src/protocol/types.js';
import { isAacSequenceHeader, isOnMetaData, isVideoSequenceHeader } from './media-source.js';
import type { ExpectedHeaders, Totals } from './messages.js';
import { frameLatencyMs } from './schedule.js';

export interface TallySink {
  /** Every Totals these counts go to (the task's and its protocol's). */
  counters: Totals[];
  videoLatency(ms: number): void;
  audioLatency(ms: number): void;
  /** The first marked video frame of this player. */
  firstVideoFrame(receivedMs: number): void;
}

export class FrameTally {
  /** Tags before this (wall-clock ms) were scheduled are the GOP cache. */
  playRequestedMs: number;
  private readonly lastSeq = [-1, -1];
  private metadata = false;
  private videoHeader = false;
  private audioHeader = false;
  private headersCounted = false;
  private gotVideo = false;

  constructor(
    private readonly stream: number,
    private readonly expect: ExpectedHeaders,
    private readonly sink: TallySink,
    playRequestedMs: number,
  ) {
    this.playRequestedMs = playRequestedMs;
  }

  private add(field: keyof Totals, n = 1): void {
    for (const c of this.sink.counters) c[field] += n;
  }

  onTag(type: number, payload: Uint8Array, receivedMs: number): void {
    if (type === TagType.Script) {
      if (isOnMetaData(payload)) this.metadata = true;
      return this.checkHeaders();
    }
    if (type === TagType.Video && isVideoSequenceHeader(payload)) {
      this.videoHeader = true;
      return this.checkHeaders();
    }
    if (type === TagType.Audio && isAacSequenceHeader(payload)) {
      this.audioHeader = true;
      return this.checkHeaders();
    }
    if (type !== TagType.Audio && type !== TagType.Video) return;
    const m = findMarker(payload);
    if (!m) return;
    if (m.stream !== this.stream) return this.add('foreignFrames');
    this.add('framesIn');
    const last = this.lastSeq[m.kind]!;
    if (last < 0 || m.seq > last) {
      if (last >= 0 && m.seq > last + 1) this.add('gaps', m.seq - last - 1);
      this.lastSeq[m.kind] = m.seq;
    } else {
      this.add('reorders');
    }
    const video = m.kind === MarkerKind.Video;
    if (m.scheduledMs < this.playRequestedMs) this.add('cachedFrames');
    else if (video) this.sink.videoLatency(frameLatencyMs(receivedMs, m.scheduledMs));
    else this.sink.audioLatency(frameLatencyMs(receivedMs, m.scheduledMs));
    if (video && !this.gotVideo) {
      this.gotVideo = true;
      this.add('playersWithFrames');
      this.sink.firstVideoFrame(receivedMs);
    }
  }

  private checkHeaders(): void {
    if (this.headersCounted || !this.videoHeader) return;
    if (this.expect.metadata && !this.metadata) return;
    if (this.expect.audio && !this.audioHeader) return;
    this.headersCounted = true;
    this.add('playersWithHeaders');
  }
}

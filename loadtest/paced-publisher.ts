/**
 * A publishing RtmpClient sending a media source's frames on the
 * wall-clock schedule (schedule.ts) from `startMs` until `endMs` or the
 * connection ends: the sequence headers first, then each frame when due;
 * late frames go out late with their scheduled stamps, never skipped. Past
 * WRITE_HIGH_WATER unsent bytes it waits for 'drain'.
 */
import type { RtmpClient } from '../src/rtmp/client/rtmp-client.js';
import type { MediaSource } from './media-source.js';
import { sendDue, wallNowMs, type PacedSource } from './schedule.js';

const WRITE_HIGH_WATER = 4 * 1024 * 1024;

export class PacedPublisher implements PacedSource {
  private timer: NodeJS.Timeout | undefined;
  private finish: (() => void) | undefined;
  readonly done: Promise<void>;

  /** `onSent(nowMs, dueMs)` after each frame (the load generator's send-lag and byte counts). */
  constructor(
    protected readonly client: RtmpClient,
    private readonly source: MediaSource,
    private readonly startMs: number,
    private endMs: number,
    private readonly onSent?: (nowMs: number, dueMs: number) => void,
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    client.on('close', () => this.stop());
    for (const m of source.headers) client.sendMedia(m.type, m.timestamp, m.payload);
    this.pump();
  }

  nextDueMs(): number {
    return this.startMs + this.source.nextOffsetMs();
  }

  sendNext(nowMs: number): void {
    const due = this.nextDueMs();
    const m = this.source.take(due);
    this.client.sendMedia(m.type, m.timestamp, m.payload);
    this.onSent?.(nowMs, due);
  }

  /** Stop sending now (the run is ending, or the connection is gone). */
  stop(): void {
    this.endMs = -Infinity;
    clearTimeout(this.timer);
    this.client.socket.off('drain', this.pump);
    this.finish?.();
    this.finish = undefined;
  }

  private readonly pump = (): void => {
    this.timer = undefined;
    if (this.client.isClosed) return this.stop();
    const backedUp = (): boolean => this.client.writableLength >= WRITE_HIGH_WATER;
    sendDue(this, wallNowMs(), this.endMs, () => !backedUp());
    if (this.nextDueMs() >= this.endMs) return this.stop();
    if (backedUp()) return void this.client.socket.once('drain', this.pump);
    this.timer = setTimeout(this.pump, Math.max(0, this.nextDueMs() - wallNowMs()));
  };
}

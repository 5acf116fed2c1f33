/**
 * A piscina task running a group of publishers for the whole run. Each
 * connects, publishes `${prefix}-${index}`, sends onMetaData and the
 * sequence headers, then sends its frames on the wall-clock schedule
 * (schedule.ts) until the run's end; late frames go out late with their
 * scheduled stamps, never skipped.
 */
import { RtmpClient } from '../src/rtmp/client/rtmp-client.js';
import { recordMs, type Histogram } from './histograms.js';
import type { PublisherTaskInput } from './messages.js';
import { streamName, type LoadtestOptions } from './options.js';
import { sendDue, wallNowMs, type PacedSource } from './schedule.js';
import { FileSource } from './file-source.js';
import { SyntheticSource } from './synthetic-media.js';
import type { MediaSource } from './media-source.js';
import { TaskReporter } from './task-reporter.js';

/** Past this many unsent bytes in its socket a publisher waits for 'drain' (its frames then go out late). */
const WRITE_HIGH_WATER = 4 * 1024 * 1024;

export function mediaSourceFor(o: LoadtestOptions, stream: number): MediaSource {
  return o.file ? new FileSource(o.file, stream) : new SyntheticSource({ stream, bitrateKbps: o.bitrateKbps, fps: o.fps, gop: o.gop, audio: o.audio });
}

class Publisher implements PacedSource {
  private timer: NodeJS.Timeout | undefined;
  private counted = 0;
  private finish: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor(
    private readonly client: RtmpClient,
    private readonly source: MediaSource,
    private readonly startMs: number,
    private endMs: number,
    private readonly rep: TaskReporter,
    private readonly sendLag: Histogram,
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    client.on('close', () => this.stop());
    for (const m of source.headers) client.sendMedia(m.type, m.timestamp, m.payload);
    this.countBytes();
    this.pump();
  }

  nextDueMs(): number {
    return this.startMs + this.source.nextOffsetMs();
  }

  sendNext(nowMs: number): void {
    const due = this.nextDueMs();
    const m = this.source.take(due);
    this.client.sendMedia(m.type, m.timestamp, m.payload);
    recordMs(this.sendLag, nowMs - due);
    this.rep.totals.framesSent++;
    this.countBytes();
  }

  private countBytes(): void {
    this.rep.totals.bytesOut += this.client.stats.bytesOut - this.counted;
    this.counted = this.client.stats.bytesOut;
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
    if (backedUp()) {
      this.client.socket.once('drain', this.pump);
      return;
    }
    this.timer = setTimeout(this.pump, Math.max(0, this.nextDueMs() - wallNowMs()));
  };
}

export async function runPublisherTask(input: PublisherTaskInput): Promise<Uint8Array> {
  const o = input.options;
  const clients: RtmpClient[] = [];
  const publishers: Publisher[] = [];
  let live = 0;
  const rep = new TaskReporter(input, () => ({ playing: 0, live }));
  const sendLag = rep.histogram('send-lag');
  let stopped = false;
  rep.onStop(() => {
    stopped = true;
    for (const p of publishers) p.stop();
  });
  let firstError: string | undefined;
  const frameMs = 1000 / o.fps;
  await Promise.all(
    input.publishers.map(async (index, i) => {
      let client: RtmpClient | undefined;
      try {
        client = await RtmpClient.connect(o.target, { timeoutMs: o.timeoutMs });
        clients.push(client);
        await client.publish(streamName(o, index));
      } catch (err) {
        client?.destroy();
        rep.totals.publishersFailed++;
        rep.error(err);
        firstError ??= `publish ${streamName(o, index)}: ${err instanceof Error ? err.message : String(err)}`;
        return;
      }
      rep.totals.publishersLive++;
      live++;
      const c = client;
      c.on('close', (err) => {
        live--;
        if (!stopped && wallNowMs() < input.endMs) {
          rep.totals.publishersDropped++;
          rep.error(err ?? new Error('publisher connection closed'));
        }
      });
      if (stopped) return;
      // Spread the publishers' frames over one frame interval instead of all at once.
      const stagger = (frameMs * i) / input.publishers.length;
      publishers.push(new Publisher(c, mediaSourceFor(o, index), wallNowMs() + stagger, input.endMs, rep, sendLag));
    }),
  );
  rep.post({ type: 'ready', task: input.task, live, failed: rep.totals.publishersFailed, ...(firstError ? { error: firstError } : {}) });
  await Promise.all(publishers.map((p) => p.done));
  // Stay connected until the players stop, so the last frames reach them before any unpublish notice.
  await rep.waitUntil(input.stopMs);
  stopped = true;
  await Promise.all(clients.map((c) => c.close()));
  return rep.finish();
}

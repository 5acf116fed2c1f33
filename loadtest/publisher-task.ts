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
import { wallNowMs } from './schedule.js';
import { PacedPublisher } from './paced-publisher.js';
import { FileSource } from './file-source.js';
import { SyntheticSource } from './synthetic-media.js';
import type { MediaSource } from './media-source.js';
import { TaskReporter } from './task-reporter.js';

export function mediaSourceFor(o: LoadtestOptions, stream: number): MediaSource {
  return o.file ? new FileSource(o.file, stream) : new SyntheticSource({ stream, bitrateKbps: o.bitrateKbps, fps: o.fps, gop: o.gop, audio: o.audio });
}

/** Counts what it sends into the task's report. */
function reportingPublisher(client: RtmpClient, source: MediaSource, startMs: number, endMs: number, rep: TaskReporter, sendLag: Histogram): PacedPublisher {
  let counted = 0;
  const countBytes = (): void => {
    rep.totals.bytesOut += client.stats.bytesOut - counted;
    counted = client.stats.bytesOut;
  };
  const p = new PacedPublisher(client, source, startMs, endMs, (nowMs, dueMs) => {
    recordMs(sendLag, nowMs - dueMs);
    rep.totals.framesSent++;
    countBytes();
  });
  countBytes(); // the sequence headers
  return p;
}

export async function runPublisherTask(input: PublisherTaskInput): Promise<Uint8Array> {
  const o = input.options;
  const clients: RtmpClient[] = [];
  const publishers: PacedPublisher[] = [];
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
        client = await RtmpClient.connect(o.target, { timeoutMs: o.timeoutMs, tlsVerify: !o.insecure });
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
      publishers.push(reportingPublisher(c, mediaSourceFor(o, index), wallNowMs() + stagger, input.endMs, rep, sendLag));
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

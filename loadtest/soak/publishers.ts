/**
 * Publisher churn: a few stream slots, each of which publishes synthetic
 * media (synthetic-media.ts, on the wall-clock schedule of schedule.ts)
 * for a random 10-60 s, stops (a clean close or a dropped socket), waits
 * a moment and publishes again — half the time the same name within the
 * server's republish grace (its players should stay attached), else a new
 * name. Now and then a second publisher tries a live name and must be
 * refused (NetStream.Publish.BadName).
 */
import { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import { wallNowMs } from '../schedule.js';
import { PacedPublisher } from '../paced-publisher.js';
import { SyntheticSource } from '../synthetic-media.js';
import type { ClientSet } from './client-set.js';
import type { Rng } from './rng.js';
import { bump, type Counts } from './types.js';

const PUBLISH_S: [number, number] = [10, 60];
/** Pause between two publishes of a slot; below media.republishGraceMs (5 s) a same-name republish resumes the stream. */
const GAP_S: [number, number] = [0.5, 4];

export interface LiveName {
  name: string;
  /** When its publisher plans to stop (wall clock ms). */
  endsAtMs: number;
}


export class PublisherChurn {
  readonly counts: Counts = {};
  private readonly live = new Map<number, LiveName>();

  constructor(
    private readonly url: string,
    private readonly prefix: string,
    private readonly slots: number,
    private readonly bitrateKbps: number,
    private readonly endMs: number,
    private readonly rng: Rng,
    private readonly set: ClientSet,
  ) {}

  /** Names being published now. */
  liveNames(): LiveName[] {
    return [...this.live.values()];
  }

  start(): void {
    for (let slot = 0; slot < this.slots; slot++) {
      // Staggered so the slots do not stop and start in step.
      this.set.later(this.rng.between(0, 2000), () => void this.cycle(slot, 0, `${this.prefix}-${slot}-0`));
    }
  }

  private async cycle(slot: number, generation: number, name: string): Promise<void> {
    const endMs = Math.min(this.endMs, wallNowMs() + 1000 * this.rng.between(...PUBLISH_S));
    const publishing = await this.set.track(this.publish(slot, name, endMs));
    if (publishing) await publishing;
    this.live.delete(slot);
    const gapMs = 1000 * this.rng.between(...GAP_S);
    if (wallNowMs() + gapMs + 5000 >= this.endMs) return;
    const same = this.rng.chance(0.5);
    bump(this.counts, same ? 'republishSameName' : 'newName');
    const next = same ? name : `${this.prefix}-${slot}-${generation + 1}`;
    this.set.later(gapMs, () => void this.cycle(slot, generation + 1, next));
  }

  /** Resolves once publishing (with a promise of its end), or undefined if the publish failed. */
  private async publish(slot: number, name: string, endMs: number): Promise<Promise<void> | undefined> {
    let client: RtmpClient | undefined;
    try {
      client = await RtmpClient.connect(this.url, { timeoutMs: 10000 });
      await client.publish(name);
    } catch {
      client?.destroy();
      bump(this.counts, 'failed');
      return undefined;
    }
    const c = client;
    if (this.set.stopped) {
      c.destroy();
      return undefined;
    }
    bump(this.counts, 'started');
    const forget = this.set.add(() => c.close());
    this.live.set(slot, { name, endsAtMs: endMs });
    const source = new SyntheticSource({ stream: slot, bitrateKbps: this.bitrateKbps, fps: 25, gop: 50, audio: true });
    const pub = new PacedPublisher(c, source, wallNowMs(), endMs);
    if (this.rng.chance(0.15)) this.set.later(this.rng.between(1000, 3000), () => void this.duplicate(name));
    return pub.done.then(async () => {
      this.live.delete(slot);
      if (c.isClosed) bump(this.counts, 'closedByServer');
      else if (this.rng.chance(0.5)) {
        bump(this.counts, 'stoppedClean');
        await c.close();
      } else {
        bump(this.counts, 'stoppedDropped');
        c.destroy();
      }
      forget();
    });
  }

  /** A second publisher on a live name: the server must refuse it. */
  private async duplicate(name: string): Promise<void> {
    if (!this.liveNames().some((n) => n.name === name && n.endsAtMs > wallNowMs() + 2000)) return;
    let client: RtmpClient | undefined;
    try {
      client = await this.set.track(RtmpClient.connect(this.url, { timeoutMs: 5000 }));
      await this.set.track(client.publish(name));
      bump(this.counts, 'duplicateAccepted');
    } catch {
      bump(this.counts, client ? 'duplicateRefused' : 'duplicateConnectFailed');
    } finally {
      client?.destroy();
    }
  }
}

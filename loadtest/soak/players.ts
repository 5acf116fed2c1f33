/**
 * Player churn: players of the three streamed transports (play-transports.ts; not HLS) join
 * at random moments while there is room under the bound, watch a live
 * name (now and then one nobody publishes, which must be refused after
 * media.playWaitMs) for a random 2-30 s, and leave. A player whose stream
 * ends under it is closed by the server; that is counted, not an error.
 */
import { openPlayer } from '../play-transports.js';
import { STREAMED_PROTOCOLS, type StreamedProtocol } from '../options.js';
import { playUrl } from '../targets.js';
import type { ClientSet } from './client-set.js';
import type { LiveName } from './publishers.js';
import type { Rng } from './rng.js';
import { bump, type Counts } from './types.js';

const STAY_S: [number, number] = [2, 30];
/** Mean pause between two joins while there is room. */
const JOIN_EVERY_MS = 400;
const UNPUBLISHED_SHARE = 0.08;

export interface PlayTarget {
  /** rtmp://127.0.0.1:PORT/live */
  rtmpUrl: string;
  /** http://{host}:PORT/{app}/{stream}.flv */
  urlTemplate: string;
}

export function urlFor(t: PlayTarget, protocol: StreamedProtocol, name: string): string {
  return playUrl({ target: t.rtmpUrl, playUrlTemplate: t.urlTemplate }, protocol, name);
}

export class PlayerChurn {
  readonly counts: Record<StreamedProtocol, Counts> = { rtmp: {}, 'http-flv': {}, 'ws-flv': {} };
  active = 0;
  bytesIn = 0;
  private index = 0;

  constructor(
    private readonly target: PlayTarget,
    private readonly prefix: string,
    private readonly liveNames: () => LiveName[],
    private readonly room: () => boolean,
    private readonly rng: Rng,
    private readonly set: ClientSet,
  ) {}

  start(): void {
    this.set.later(this.rng.between(0, 2 * JOIN_EVERY_MS), () => {
      if (this.room()) void this.join();
      this.start();
    });
  }

  private async join(): Promise<void> {
    const protocol = this.rng.pick(STREAMED_PROTOCOLS);
    const counts = this.counts[protocol];
    const live = this.liveNames();
    const name = live.length === 0 || this.rng.chance(UNPUBLISHED_SHARE) ? `${this.prefix}-nobody-${this.index}` : this.rng.pick(live).name;
    const a = { index: this.index++, stream: 0, name, protocol, url: urlFor(this.target, protocol, name) };
    let closing = false;
    let forget = (): void => undefined;
    this.active++;
    bump(counts, 'tried');
    try {
      const conn = await this.set.track(
        openPlayer(a, 10000, {
          onPlayRequested: () => undefined,
          onConnected: () => undefined,
          onTag: () => undefined,
          onBytes: (n) => (this.bytesIn += n),
          onClose: () => {
            this.active--;
            forget();
            if (!closing) bump(counts, 'endedByServer');
          },
        }),
      );
      bump(counts, 'played');
      const close = (): Promise<void> => {
        if (closing) return Promise.resolve();
        closing = true;
        return conn.close();
      };
      forget = this.set.add(close);
      if (this.set.stopped) return void (await close());
      this.set.later(1000 * this.rng.between(...STAY_S), () => void close());
    } catch {
      this.active--;
      bump(counts, name.includes('-nobody-') ? 'refusedUnpublished' : 'failed');
    }
  }
}

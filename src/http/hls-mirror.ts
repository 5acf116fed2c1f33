/**
 * One stream's HLS on a worker that does not segment it: the owner's
 * playlist state (hls-share.ts), taken as it comes, and its bytes served
 * from the owner's shared memory. The mirror still reads the stream (a
 * player that takes nothing) so it hears the stream end as every player
 * does, and keeps the stream's view on this worker while viewers here watch.
 */
import type { TagRing } from '../core/tag-ring.js';
import type { ErrorCode } from '../core/errors.js';
import type { Logger } from '../app/log.js';
import type { PlayLease } from '../app/stream-service.js';
import type { PlayerPolicy, PlayerTransport, SubscriberEvents } from '../media/types.js';
import { noBytesForm } from '../media/egress/no-bytes-form.js';
import type { Subscriber } from '../media/subscriber.js';
import type { PlaylistSource } from '../hls/playlist.js';
import { tsPublished } from '../hls/published.js';
import type { StreamTracks } from '../hls/segmenter.js';
import { HlsSource, type Holding } from './hls-source.js';
import type { SharedState } from './hls-wire.js';

/** After the stream ends, the owner's last state is awaited this many part targets (at least 1 s). */
const SETTLE_PARTS = 4;

export interface HlsMirrorOptions {
  segmentMs: number;
  partMs: number;
  policy: PlayerPolicy;
}

export class HlsMirror extends HlsSource implements PlayerTransport, SubscriberEvents {
  readonly key: string;
  readonly writableLength = 0;
  readonly heldBytes = 0;
  private state: SharedState | undefined;
  private sub: Subscriber | undefined;
  private ts: { version: number; view: PlaylistSource } | undefined;
  private inits = new Map<string, Buffer>();
  private initNames = new Map<number, string>();
  private readonly empty: PlaylistSource;
  /** The stream ended (heard here, or in the owner's state). */
  private streamEnded = false;
  /** The owner's last state after the end has come (or stopped being waited for): the playlist may say ENDLIST. */
  private settled = false;
  private settling: NodeJS.Timeout | undefined;

  constructor(
    private readonly lease: PlayLease,
    /** The owner this mirrors (hls/ownership.ts): states of any other are not its. */
    readonly token: number,
    private readonly opts: HlsMirrorOptions,
    private readonly log: Logger,
  ) {
    super();
    this.key = lease.stream.key;
    this.empty = {
      segments: [], open: undefined, nextPart: { msn: 0, index: 0 }, opts: { segmentMs: opts.segmentMs, partMs: opts.partMs },
      discontinuitySequence: 0, maxSegmentMs: 0, ended: false,
    };
  }

  start(): void {
    this.sub = this.lease.subscribe(noBytesForm, this, this, this.opts.policy);
  }

  get ring(): TagRing {
    return this.lease.stream.ring!;
  }

  get hasState(): boolean {
    return this.state !== undefined;
  }

  /** The owner's state after a change. */
  take(state: SharedState): void {
    this.state = state;
    this.unsupported = state.unsupported;
    if (state.view.ended) {
      this.endReason ??= state.endReason ?? 'ended';
      this.streamEnded = this.settled = true;
      clearTimeout(this.settling);
    }
    // Only the inits the window names stay.
    this.initNames = new Map(state.inits.map(([version, name]) => [version, name]));
    this.inits = new Map(state.inits.map(([, name, bytes]) => [name, bytes]));
    this.version++;
    this.notify();
  }

  get view(): PlaylistSource {
    const v = this.state?.view ?? this.empty;
    // The owner's last state did not come in time (its thread gone): the playlist ends where it is.
    return this.settled && !v.ended ? { ...v, ended: true } : v;
  }

  get tsView(): PlaylistSource {
    if (this.ts?.version !== this.version) this.ts = { version: this.version, view: tsPublished(this.view) };
    return this.ts.view;
  }

  get ready(): boolean {
    return this.state?.ready === true || this.endReason !== undefined || this.unsupported !== undefined;
  }

  /** Also while the owner's last parts are on their way after the end: a held request then waits for them. */
  get building(): boolean {
    return this.state?.building === true || (this.streamEnded && !this.settled);
  }

  get ended(): boolean {
    return this.streamEnded;
  }

  get maxSegmentMs(): number {
    return this.view.maxSegmentMs;
  }

  get trackLayout(): StreamTracks | undefined {
    return this.state?.tracks;
  }

  askTs(): string | undefined {
    return this.tsAsked(this.ring.ctl, this.state?.tracks, this.state?.tsWhy);
  }

  initByName(name: string): Buffer | undefined {
    return this.inits.get(name);
  }

  initName(version: number): string {
    return this.initNames.get(version) ?? 'none';
  }

  trimOldest(): boolean {
    return false;
  }

  protected holding(): Holding {
    return this.view;
  }

  close(): void {
    clearTimeout(this.settling);
    this.sub?.close();
    this.lease.release();
    this.endReason ??= 'closed';
    this.version++;
    this.notify();
    this.dropWaiters();
  }

  // ---- PlayerTransport / SubscriberEvents: the media itself is the owner's to read ----

  write(): void {}

  onUnpublish(): void {}

  onPublish(): void {}

  onStreamEnd(reason: string): void {
    if (this.streamEnded) return;
    this.endReason ??= reason;
    this.streamEnded = true;
    // The owner flushes the last part and sends its final state; a few parts' time is plenty.
    this.settling = setTimeout(() => {
      this.settled = true;
      this.version++;
      this.notify();
    }, Math.max(1000, SETTLE_PARTS * this.opts.partMs));
    this.settling.unref();
    this.version++;
    this.notify();
  }

  onEvict(code: ErrorCode, reason: string): void {
    this.log.warn({ streamKey: this.key, code, reason }, 'hls: mirror stopped reading the stream');
  }
}

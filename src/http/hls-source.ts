/**
 * What HLS requests read of one stream on one worker, whether this worker
 * segments it (HlsStream, the node's owner of the stream's HLS) or serves
 * the owner's segments (HlsMirror): the playlist state, the media by name,
 * playlists rendered once per version, and waits for the next change.
 */
import { C_HLS_TS } from '../core/tag-ring.js';
import type { PlaylistSource } from '../hls/playlist.js';
import type { HlsSegment, StreamTracks } from '../hls/segmenter.js';

/** The playlists rendered per version: fMP4 (full or delta update) and MPEG-TS. */
export type PlaylistKind = 'fmp4' | 'fmp4-skip' | 'ts';

/** What a playlist may name and what requests may fetch: the window's segments and the open one. */
export interface Holding {
  segments: readonly HlsSegment[];
  open: HlsSegment | undefined;
}

export abstract class HlsSource {
  abstract readonly key: string;
  /** Why the stream ended (ENDLIST written), or undefined while live. */
  endReason: string | undefined;
  /** A codec HLS cannot carry here: requests are answered 415 with this. */
  unsupported: string | undefined;
  lastRequestAt = Date.now();
  /** Bumped whenever the playlist would read differently. */
  version = 0;

  /** What playlists list. */
  abstract readonly view: PlaylistSource;
  /** What the MPEG-TS playlist lists: complete segments that have their TS. */
  abstract readonly tsView: PlaylistSource;
  /** Has something to list (a complete segment, nothing in the works), or ended, or refused. */
  abstract readonly ready: boolean;
  /** Parts still being built: an end answers held requests only once they are. */
  abstract readonly building: boolean;
  /** The segmenter ended: its playlist says EXT-X-ENDLIST. */
  abstract readonly ended: boolean;
  /** The longest segment, ms (the ended-stream grace lasts a few of them). */
  abstract readonly maxSegmentMs: number;
  /** The tracks segmented, once the first frame fixed them. */
  abstract readonly trackLayout: StreamTracks | undefined;
  /** Bytes this worker holds for the stream (a mirror's are the owner's). */
  abstract readonly heldBytes: number;
  /** Why this stream has no MPEG-TS form, or undefined: then TS starts for the stream. */
  abstract askTs(): string | undefined;
  abstract initByName(name: string): Buffer | undefined;
  /** The init's name: a hash of its bytes, the same on every worker. */
  abstract initName(version: number): string;
  /** Drops the oldest complete segment (the memory bound); false when there is nothing to give up. */
  abstract trimOldest(): boolean;
  /** Starts reading the stream. */
  abstract start(): void;
  abstract close(): void;
  protected abstract holding(): Holding;

  /** Segment msn, complete and built, in the window; undefined when gone or not yet there. */
  segment(msn: number): HlsSegment | undefined {
    const s = this.holding().segments.find((x) => x.msn === msn);
    return s?.bytes ? s : undefined;
  }

  /** Part bytes of msn.index once built (complete segments and the open one). */
  part(msn: number, index: number): Buffer | undefined {
    const h = this.holding();
    const s = h.open?.msn === msn ? h.open : h.segments.find((x) => x.msn === msn);
    const p = s?.parts[index];
    return p?.built ? p.bytes : undefined;
  }

  /** A playlist's text for the current version, rendered once per version and kind. */
  rendered(kind: PlaylistKind, render: () => string): string {
    const have = this.renders.get(kind);
    if (have && have.version === this.version) return have.text;
    const text = render();
    this.renders.set(kind, { version: this.version, text });
    return text;
  }

  private readonly renders = new Map<PlaylistKind, { version: number; text: string }>();
  private readonly waiters = new Set<() => boolean>();

  /** `check` runs after every change until it returns true (then it is dropped). */
  wait(check: () => boolean): () => void {
    if (check()) return () => {};
    this.waiters.add(check);
    return () => this.waiters.delete(check);
  }

  /** After a change: held requests look again. */
  protected notify(): void {
    for (const w of [...this.waiters]) if (w()) this.waiters.delete(w);
  }

  protected dropWaiters(): void {
    this.waiters.clear();
  }

  /**
   * TS for a stream that can have it is asked for in the ring (its HLS_TS
   * word): the owner builds it from then on, and every worker lists it.
   */
  protected tsAsked(ctl: Int32Array, tracks: StreamTracks | undefined, why: string | undefined): string | undefined {
    if (!tracks || (!tracks.video && !tracks.audio)) return undefined;
    if (why !== undefined) return `${why} (use the .m3u8 playlist)`;
    Atomics.store(ctl, C_HLS_TS, 1);
    return undefined;
  }
}

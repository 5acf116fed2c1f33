import { SluiceError } from '../core/errors.js';
import type { HlsSegment, Segmenter, SegmenterOptions, StreamTracks } from './segmenter.js';
import { codecString } from './codecs.js';
import { trackList } from './segment-types.js';

/**
 * HLS media playlist text (RFC 8216 4.3) from a Segmenter's state, with the
 * LL-HLS tags of draft-pantos-hls-rfc8216bis (4.4.3.7 PART-INF, 4.4.3.8
 * SERVER-CONTROL, 4.4.4.9 PART, 4.4.5.3 PRELOAD-HINT) unless turned off,
 * and the blocking-reload answer of its section 6.2.5.2.
 */

export interface PlaylistNames {
  segment(msn: number): string;
  part(msn: number, index: number): string;
  /** EXT-X-MAP's URI; undefined for segments that carry their own (MPEG-TS): no EXT-X-MAP. */
  init(version: number): string | undefined;
}

export interface PlaylistOptions {
  names: PlaylistNames;
  /** LL-HLS tags (default true); off gives a plain RFC 8216 live playlist. */
  lowLatency?: boolean;
  /** Parts are listed for complete segments ending within this many target durations of the live edge (default 3, rfc8216bis 4.4.4.9). */
  partTargets?: number;
  /**
   * Offer Playlist Delta Updates (rfc8216bis 6.2.5.1): CAN-SKIP-UNTIL of
   * six target durations, the least the draft allows. Only worth it when
   * the window is longer than that; off by default.
   */
  deltaUpdates?: boolean;
  /** Render the delta update (`_HLS_skip=YES`): segments wholly older than the skip boundary become one EXT-X-SKIP. */
  skip?: boolean;
}

/** CAN-SKIP-UNTIL in target durations: the draft's minimum (4.4.3.8). */
const SKIP_TARGETS = 6;
/** EXT-X-SKIP needs version 9 (rfc8216bis 7). */
const SKIP_VERSION = 9;

/** The Segmenter state a playlist reads (plain data: another worker's state arrives as this). */
export type PlaylistSource = Pick<Segmenter, 'segments' | 'open' | 'discontinuitySequence' | 'maxSegmentMs' | 'ended' | 'nextPart'> & {
  opts: Pick<SegmenterOptions, 'segmentMs' | 'partMs'>;
};

/**
 * 6: EXT-X-MAP outside an I-frames-only playlist (RFC 8216 7). The LL-HLS
 * tags need no higher version (the draft's own examples use 6); 9 would
 * only be for EXT-X-SKIP, which this writer does not emit.
 */
const VERSION = 6;
/** PART-HOLD-BACK: the draft requires at least 2 part targets and recommends 3. */
const PART_HOLD_BACK_TARGETS = 3;

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/** EXT-X-TARGETDURATION: whole seconds covering the target and every segment so far, so it never shrinks (RFC 8216 4.3.3.1). */
export function targetDurationS(src: PlaylistSource): number {
  return Math.ceil(Math.max(src.opts.segmentMs, src.maxSegmentMs) / 1000);
}

export function mediaPlaylist(src: PlaylistSource, opts: PlaylistOptions): string {
  const ll = opts.lowLatency ?? true;
  const { names } = opts;
  const target = targetDurationS(src);
  const first = src.segments[0] ?? src.open;
  const all = src.open ? [...src.segments, src.open] : src.segments;
  const edge = all.reduce((ms, s) => ms + s.durationMs, 0);
  const skipUntilMs = opts.deltaUpdates ? SKIP_TARGETS * target * 1000 : undefined;
  // Complete segments that end before the skip boundary, from the oldest.
  let skipped = 0;
  if (opts.skip && skipUntilMs !== undefined) {
    for (let end = 0; skipped < src.segments.length && (end += src.segments[skipped]!.durationMs) <= edge - skipUntilMs;) skipped++;
  }
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${skipped > 0 ? SKIP_VERSION : VERSION}`, `#EXT-X-TARGETDURATION:${target}`];
  if (ll) {
    const partTarget = src.opts.partMs;
    const skip = skipUntilMs === undefined ? '' : `,CAN-SKIP-UNTIL=${seconds(skipUntilMs)}`;
    lines.push(
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES${skip},PART-HOLD-BACK=${seconds(PART_HOLD_BACK_TARGETS * partTarget)}`,
      `#EXT-X-PART-INF:PART-TARGET=${seconds(partTarget)}`,
    );
  }
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${first?.msn ?? src.nextPart.msn}`);
  if (src.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${src.discontinuitySequence}`);
  if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);

  // Parts of complete segments are listed only near the live edge; older segments are listed whole.
  let fromEnd = edge;
  let map: number | undefined;
  for (const [i, seg] of all.entries()) {
    fromEnd -= seg.durationMs; // now: from this segment's end to the live edge
    if (i < skipped) continue;
    if (seg.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (seg.initVersion !== map) {
      map = seg.initVersion;
      const uri = names.init(map);
      if (uri !== undefined) lines.push(`#EXT-X-MAP:URI="${uri}"`);
    }
    if (seg.programDateMs !== undefined) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(seg.programDateMs).toISOString()}`);
    if (ll && (seg === src.open || fromEnd < (opts.partTargets ?? 3) * target * 1000)) {
      lines.push(...partLines(seg, names));
    }
    if (seg !== src.open) lines.push(`#EXTINF:${seconds(seg.durationMs)},`, names.segment(seg.msn));
  }
  if (src.ended) lines.push('#EXT-X-ENDLIST');
  else if (ll) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${names.part(src.nextPart.msn, src.nextPart.index)}"`);
  return `${lines.join('\n')}\n`;
}

function partLines(seg: HlsSegment, names: PlaylistNames): string[] {
  return seg.parts.map((p) =>
    `#EXT-X-PART:DURATION=${seconds(p.durationMs)},URI="${names.part(p.msn, p.index)}"${p.independent ? ',INDEPENDENT=YES' : ''}`);
}

export type ReloadAnswer = 'ready' | 'wait' | 'bad-request';

/**
 * Blocking playlist reload (rfc8216bis 6.2.5.2) for `_HLS_msn=msn` and
 * optionally `_HLS_part=part`: 'ready' when the playlist holds that part
 * (or that whole segment, without `part`) or a later one; 'wait' to hold
 * the request; 'bad-request' (HTTP 400) when msn is more than two past the
 * last segment, or part is more than the Advance Part Limit past the last
 * part (three divided by the part target when that is under a second,
 * otherwise three).
 */
export function blockingReload(src: PlaylistSource, msn: number, part?: number): ReloadAnswer {
  if (!Number.isInteger(msn) || msn < 0) throw new SluiceError('ERR_PROTOCOL', `_HLS_msn ${msn}`);
  if (part !== undefined && (!Number.isInteger(part) || part < 0)) throw new SluiceError('ERR_PROTOCOL', `_HLS_part ${part}`);
  const lastComplete = src.segments[src.segments.length - 1]?.msn ?? src.nextPart.msn - 1;
  const latest = latestPart(src);
  const lastMsn = src.open?.msn ?? lastComplete;
  if (msn > lastMsn + 2) return 'bad-request';
  if (part === undefined) return msn <= lastComplete ? 'ready' : 'wait';
  if (latest && (latest.msn > msn || (latest.msn === msn && latest.index >= part))) return 'ready';
  const partTargetS = src.opts.partMs / 1000;
  const limit = partTargetS < 1 ? 3 / partTargetS : 3;
  // Parts ahead of the latest, counted as few as possible: a later segment's part P is at least P + 1 ahead.
  const ahead = latest && latest.msn === msn ? part - latest.index : part + 1;
  return ahead > limit ? 'bad-request' : 'wait';
}

function latestPart(src: PlaylistSource): { msn: number; index: number } | undefined {
  const seg = src.open ?? src.segments[src.segments.length - 1];
  const p = seg?.parts[seg.parts.length - 1];
  return p ? { msn: p.msn, index: p.index } : undefined;
}

/**
 * The multivariant playlist of a stream with several tracks (RFC 8216
 * 4.3.4.2): one variant, the muxed fMP4 media playlist at `uri`, with what
 * a player needs to choose before fetching media: CODECS, RESOLUTION and
 * BANDWIDTH (the peak segment bit rate of the window; AVERAGE-BANDWIDTH its
 * mean). Segments start at keyframes: EXT-X-INDEPENDENT-SEGMENTS.
 */
export function multivariantPlaylist(src: PlaylistSource, tracks: StreamTracks, uri: string): string {
  const { peak, average } = bitRates(src);
  const attrs = [`BANDWIDTH=${peak}`, `AVERAGE-BANDWIDTH=${average}`, `CODECS="${trackList(tracks).map(codecString).join(',')}"`];
  if (tracks.video && tracks.video.width > 0) attrs.push(`RESOLUTION=${tracks.video.width}x${tracks.video.height}`);
  return ['#EXTM3U', `#EXT-X-VERSION:${VERSION}`, '#EXT-X-INDEPENDENT-SEGMENTS', `#EXT-X-STREAM-INF:${attrs.join(',')}`, uri, ''].join('\n');
}

/** Bits per second of the window's complete segments: the largest, and all of them together. */
function bitRates(src: PlaylistSource): { peak: number; average: number } {
  let peak = 0;
  let bytes = 0;
  let ms = 0;
  for (const s of src.segments) {
    const n = s.bytes?.length ?? s.parts.reduce((m, p) => m + p.bytes.length, 0);
    if (s.durationMs > 0) peak = Math.max(peak, (n * 8000) / s.durationMs);
    bytes += n;
    ms += s.durationMs;
  }
  return { peak: Math.ceil(peak), average: ms > 0 ? Math.ceil((bytes * 8000) / ms) : 0 };
}

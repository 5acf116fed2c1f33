import type { PlaylistSource } from './playlist.js';
import { discontinuitySequenceOf, type HlsSegment, type Segmenter } from './segmenter.js';

/**
 * What a playlist may list of a segmenter whose parts are built elsewhere
 * (a remux thread): everything up to the first part still being built. A
 * complete segment that waits for a part reads as the open one, with the
 * parts before it; whatever comes after is not listed yet, and the preload
 * hint names the first part not listed. With nothing pending it is the
 * segmenter itself.
 */
export function published(seg: Segmenter): PlaylistSource {
  if (seg.pending === 0) return seg;
  const segments: HlsSegment[] = [];
  let open: HlsSegment | undefined;
  for (const s of [...seg.segments, ...(seg.open ? [seg.open] : [])]) {
    const ready = s.parts.findIndex((p) => !p.built);
    if (ready < 0 && s !== seg.open) {
      segments.push(s);
      continue;
    }
    open = { ...s, parts: ready < 0 ? s.parts : s.parts.slice(0, ready), bytes: undefined };
    break;
  }
  const nextPart = open ? { msn: open.msn, index: open.parts.length } : seg.nextPart;
  // An open segment with no part listed has nothing to say yet but its hint.
  if (open && open.parts.length === 0) open = undefined;
  return {
    segments, open, nextPart, opts: seg.opts,
    discontinuitySequence: seg.discontinuitySequence,
    maxSegmentMs: seg.maxSegmentMs,
    ended: false,
  };
}

/**
 * What an MPEG-TS playlist may list: complete segments whose TS is built
 * (those closed before anyone asked for TS have none), whole segments
 * only (no parts: TS here is for players without LL-HLS), of what
 * `view` (published()) lists.
 */
export function tsPublished(view: PlaylistSource): PlaylistSource {
  const segments = view.segments.filter((s) => s.ts);
  const first = segments[0];
  return {
    segments, open: undefined, nextPart: view.nextPart, opts: view.opts,
    discontinuitySequence: first ? discontinuitySequenceOf(first, view.discontinuitySequence) : view.discontinuitySequence,
    maxSegmentMs: view.maxSegmentMs,
    ended: view.ended,
  };
}

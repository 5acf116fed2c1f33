/**
 * A strict reader of HLS media playlists (RFC 8216 4, with the LL-HLS tags
 * of draft-pantos-hls-rfc8216bis) and the rules a live playlist and its
 * reloads must keep, for the server tests. Nothing here imports src/: the
 * checks must not share the writer's arithmetic.
 *
 *   #EXTM3U
 *   #EXT-X-TARGETDURATION:1
 *   #EXT-X-PART-INF:PART-TARGET=0.200
 *   #EXT-X-MEDIA-SEQUENCE:4                    msn of the first segment listed
 *   #EXT-X-MAP:URI="a/init-…mp4"
 *   #EXT-X-PART:DURATION=0.200,URI="…"        parts belong to the next EXTINF's segment,
 *   #EXTINF:1.000,                             or, with none after them, to the open one
 *   a/seg-4.m4s
 *   #EXT-X-PRELOAD-HINT:TYPE=PART,URI="…"
 *
 * Rule functions return what is wrong (empty when nothing is), so a test
 * can show the rules fire on bad input as well as pass on the server's.
 */

export interface Part {
  /** Segment this part belongs to, and its index in it (from 0). */
  msn: number;
  index: number;
  /** Seconds. */
  duration: number;
  uri: string;
  independent: boolean;
}

export interface Segment {
  msn: number;
  /** EXTINF, seconds. */
  duration: number;
  uri: string;
  parts: Part[];
  /** The EXT-X-MAP URI in force for it. */
  map: string | undefined;
  discontinuity: boolean;
  programDate: string | undefined;
}

export interface MediaPlaylist {
  version: number | undefined;
  targetDuration: number;
  mediaSequence: number;
  discontinuitySequence: number;
  /** EXT-X-PART-INF PART-TARGET, seconds. */
  partTarget: number | undefined;
  serverControl: Record<string, string> | undefined;
  /** Complete segments, in order. */
  segments: Segment[];
  /** Parts after the last EXTINF: the segment still being written (msn = last listed + 1). */
  openParts: Part[];
  preloadHint: Record<string, string> | undefined;
  endList: boolean;
}

/** RFC 8216 4.2 attribute-list: NAME=value pairs, quoted strings may hold commas. */
export function parseAttributes(text: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Z0-9-]+)=("[^"\r\n]*"|[^",\r\n]*)(,|$)/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw new Error(`bad attribute list at ${at}: ${line}`);
    if (m[1]! in out) throw new Error(`attribute ${m[1]} twice: ${line}`);
    out[m[1]!] = m[2]!.startsWith('"') ? m[2]!.slice(1, -1) : m[2]!;
    at = re.lastIndex;
    if (m[3] === '' && at < text.length) throw new Error(`bad attribute list at ${at}: ${line}`);
  }
  return out;
}

function decimal(s: string | undefined, line: string): number {
  if (s === undefined || !/^\d+(\.\d+)?$/.test(s)) throw new Error(`not a decimal: ${JSON.stringify(s)} in ${line}`);
  return Number(s);
}

function integer(s: string, line: string): number {
  if (!/^\d+$/.test(s)) throw new Error(`not an integer: ${JSON.stringify(s)} in ${line}`);
  return Number(s);
}

/** Parses a media playlist; throws on anything malformed (a client must fail to parse it, RFC 8216 4). */
export function parseMediaPlaylist(text: string): MediaPlaylist {
  const lines = text.split('\n');
  if (lines[0] !== '#EXTM3U') throw new Error(`playlist does not start with #EXTM3U: ${JSON.stringify(lines[0])}`);
  if (text.includes('\r')) throw new Error('CR in a playlist this server writes with LF only');
  const pl: MediaPlaylist = {
    version: undefined, targetDuration: NaN, mediaSequence: 0, discontinuitySequence: 0, partTarget: undefined,
    serverControl: undefined, segments: [], openParts: [], preloadHint: undefined, endList: false,
  };
  let map: string | undefined;
  let pendingInf: number | undefined;
  let parts: Array<Omit<Part, 'msn' | 'index'>> = [];
  let discontinuity = false;
  let programDate: string | undefined;
  let sawSegmentTag = false;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    if (!line.startsWith('#')) {
      if (pendingInf === undefined) throw new Error(`URI without EXTINF: ${line}`);
      const msn = pl.mediaSequence + pl.segments.length;
      pl.segments.push({
        msn, duration: pendingInf, uri: line, map, discontinuity, programDate,
        parts: parts.map((p, index) => ({ ...p, msn, index })),
      });
      pendingInf = undefined;
      parts = [];
      discontinuity = false;
      programDate = undefined;
      continue;
    }
    const colon = line.indexOf(':');
    const tag = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1);
    switch (tag) {
      case '#EXT-X-VERSION':
        pl.version = integer(value, line);
        break;
      case '#EXT-X-TARGETDURATION':
        pl.targetDuration = integer(value, line);
        break;
      case '#EXT-X-MEDIA-SEQUENCE':
        if (sawSegmentTag) throw new Error('EXT-X-MEDIA-SEQUENCE after the first segment (RFC 8216 4.3.3.2)');
        pl.mediaSequence = integer(value, line);
        break;
      case '#EXT-X-DISCONTINUITY-SEQUENCE':
        pl.discontinuitySequence = integer(value, line);
        break;
      case '#EXT-X-PART-INF':
        pl.partTarget = decimal(parseAttributes(value, line)['PART-TARGET'], line);
        break;
      case '#EXT-X-SERVER-CONTROL':
        pl.serverControl = parseAttributes(value, line);
        break;
      case '#EXT-X-MAP': {
        const uri = parseAttributes(value, line).URI;
        if (!uri) throw new Error(`EXT-X-MAP without URI: ${line}`);
        map = uri;
        break;
      }
      case '#EXT-X-PROGRAM-DATE-TIME':
        if (Number.isNaN(Date.parse(value))) throw new Error(`bad date: ${line}`);
        programDate = value;
        sawSegmentTag = true;
        break;
      case '#EXT-X-DISCONTINUITY':
        discontinuity = true;
        sawSegmentTag = true;
        break;
      case '#EXT-X-PART': {
        const a = parseAttributes(value, line);
        if (!a.URI) throw new Error(`EXT-X-PART without URI: ${line}`);
        parts.push({ duration: decimal(a.DURATION, line), uri: a.URI, independent: a.INDEPENDENT === 'YES' });
        sawSegmentTag = true;
        break;
      }
      case '#EXTINF': {
        const m = /^(\d+(?:\.\d+)?),/.exec(value);
        if (!m) throw new Error(`bad EXTINF: ${line}`);
        pendingInf = Number(m[1]);
        sawSegmentTag = true;
        break;
      }
      case '#EXT-X-PRELOAD-HINT':
        pl.preloadHint = parseAttributes(value, line);
        break;
      case '#EXT-X-ENDLIST':
        pl.endList = true;
        break;
      default:
        if (tag.startsWith('#EXT')) throw new Error(`tag this reader does not know: ${line}`);
      // a comment
    }
  }
  if (pendingInf !== undefined) throw new Error('EXTINF without a URI at the end');
  if (Number.isNaN(pl.targetDuration)) throw new Error('no EXT-X-TARGETDURATION (RFC 8216 4.3.3.1: required)');
  const openMsn = pl.mediaSequence + pl.segments.length;
  pl.openParts = parts.map((p, index) => ({ ...p, msn: openMsn, index }));
  return pl;
}

/** Every part listed, complete segments' first, in order. */
export function allParts(pl: MediaPlaylist): Part[] {
  return [...pl.segments.flatMap((s) => s.parts), ...pl.openParts];
}

const EPS = 1e-9;

/** What a live LL-HLS media playlist breaks of RFC 8216 / rfc8216bis (one message per problem). */
export function playlistProblems(pl: MediaPlaylist): string[] {
  const out: string[] = [];
  const target = pl.targetDuration;
  for (const s of pl.segments) {
    // RFC 8216 4.3.3.1: "The EXTINF duration of each Media Segment in the Playlist file, when rounded to the nearest integer, MUST be less than or equal to the target duration".
    if (Math.round(s.duration) > target) out.push(`segment ${s.msn}: EXTINF ${s.duration} rounds to more than TARGETDURATION ${target}`);
    if (s.map === undefined) out.push(`segment ${s.msn}: no EXT-X-MAP before it (fMP4 needs its init)`);
    // Parts of a complete segment are that segment, cut up (rfc8216bis 4.4.4.9): their durations add up to its EXTINF (3-decimal rounding each).
    if (s.parts.length > 0) {
      const sum = s.parts.reduce((n, p) => n + p.duration, 0);
      if (Math.abs(sum - s.duration) > 0.001 + EPS) out.push(`segment ${s.msn}: parts add up to ${sum.toFixed(4)} s, EXTINF ${s.duration}`);
    }
  }
  if (pl.partTarget === undefined) {
    out.push('no EXT-X-PART-INF');
  } else {
    const parts = allParts(pl);
    const pt = pl.partTarget;
    for (const p of parts) {
      // rfc8216bis 4.4.4.9: "The duration of a Partial Segment MUST be less than or equal to the Part Target Duration."
      if (p.duration > pt + EPS) out.push(`part ${p.msn}.${p.index}: ${p.duration} s > PART-TARGET ${pt}`);
    }
    // ...and at least 85% of it, except INDEPENDENT=YES parts and the last part of each segment.
    // (The open segment's parts are none of them its last: the last one closes it.)
    for (const p of [...pl.segments.flatMap((x) => x.parts.slice(0, -1)), ...pl.openParts]) {
      if (!p.independent && p.duration < 0.85 * pt - EPS) out.push(`part ${p.msn}.${p.index}: ${p.duration} s < 85% of PART-TARGET ${pt}`);
    }
    if (parts.length === 0) out.push('no EXT-X-PART listed');
    const sc = pl.serverControl;
    if (!sc) out.push('no EXT-X-SERVER-CONTROL');
    else {
      if (sc['CAN-BLOCK-RELOAD'] !== 'YES') out.push(`SERVER-CONTROL CAN-BLOCK-RELOAD=${sc['CAN-BLOCK-RELOAD']}`);
      // rfc8216bis 4.4.3.8: PART-HOLD-BACK "MUST be at least twice the Part Target Duration".
      const phb = Number(sc['PART-HOLD-BACK']);
      if (!(phb >= 2 * pt - EPS)) out.push(`PART-HOLD-BACK ${sc['PART-HOLD-BACK']} < 2 × PART-TARGET ${pt}`);
    }
    if (!pl.endList) {
      const h = pl.preloadHint;
      if (!h) out.push('no EXT-X-PRELOAD-HINT on a live playlist');
      else if (h.TYPE !== 'PART' || !h.URI) out.push(`PRELOAD-HINT ${JSON.stringify(h)}`);
    }
  }
  return out;
}

/** What a reload `next` breaks against the earlier `prev` (RFC 8216 6.2.1: a live playlist only appends and drops from the front). */
export function reloadProblems(prev: MediaPlaylist, next: MediaPlaylist): string[] {
  const out: string[] = [];
  if (next.mediaSequence < prev.mediaSequence) out.push(`MEDIA-SEQUENCE went back: ${prev.mediaSequence} -> ${next.mediaSequence}`);
  if (next.targetDuration !== prev.targetDuration) out.push(`TARGETDURATION changed: ${prev.targetDuration} -> ${next.targetDuration} (RFC 8216 6.2.1 forbids it)`);
  if (next.discontinuitySequence < prev.discontinuitySequence) out.push('DISCONTINUITY-SEQUENCE went back');
  const lastPrev = prev.segments[prev.segments.length - 1]?.msn ?? prev.mediaSequence - 1;
  const lastNext = next.segments[next.segments.length - 1]?.msn ?? next.mediaSequence - 1;
  if (lastNext < lastPrev) out.push(`last segment went back: ${lastPrev} -> ${lastNext}`);
  for (const s of next.segments) {
    const was = prev.segments.find((x) => x.msn === s.msn);
    if (!was) continue;
    if (was.uri !== s.uri) out.push(`segment ${s.msn}: URI ${was.uri} -> ${s.uri}`);
    if (was.duration !== s.duration) out.push(`segment ${s.msn}: EXTINF ${was.duration} -> ${s.duration}`);
    if (was.map !== s.map) out.push(`segment ${s.msn}: map ${was.map} -> ${s.map}`);
  }
  // A part, once listed, keeps its URI and duration (as a parent segment's or the open segment's).
  const before = new Map(allParts(prev).map((p) => [`${p.msn}.${p.index}`, p]));
  for (const p of allParts(next)) {
    const was = before.get(`${p.msn}.${p.index}`);
    if (was && (was.uri !== p.uri || was.duration !== p.duration)) out.push(`part ${p.msn}.${p.index}: ${was.uri} ${was.duration} -> ${p.uri} ${p.duration}`);
  }
  return out;
}

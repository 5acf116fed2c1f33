/**
 * The little of an LL-HLS playlist a load-test player needs: a
 * multivariant playlist's variants, and of a media playlist the
 * parts listed (with the init each needs), the preload hint and where it
 * sits, the target duration, ENDLIST. Lenient (unknown tags are skipped):
 * test/hls/m3u8.ts is the strict checker of the server's playlists.
 */

export interface PartRef {
  msn: number;
  index: number;
  uri: string;
  independent: boolean;
  /** The EXT-X-MAP URI in force for it. */
  map: string | undefined;
}

export interface LivePlaylist {
  targetS: number;
  /** Every EXT-X-PART listed, in order (complete segments' first, then the open one's). */
  parts: PartRef[];
  /** Complete segments listed: their msn and count of parts listed (0 when listed whole). */
  segments: { msn: number; parts: number }[];
  /** EXT-X-PRELOAD-HINT: the part after the last listed (rfc8216bis 4.4.5.3), where it sits. */
  hint: PartRef | undefined;
  endList: boolean;
}

const ATTR = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;

function attributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(ATTR)) out[m[1]!] = m[2]!.startsWith('"') ? m[2]!.slice(1, -1) : m[2]!;
  return out;
}

export function parseLivePlaylist(text: string): LivePlaylist {
  const lines = text.split('\n');
  if (lines[0]?.trim() !== '#EXTM3U') throw new Error('not a playlist: no #EXTM3U');
  const pl: LivePlaylist = { targetS: NaN, parts: [], segments: [], hint: undefined, endList: false };
  let msn = 0;
  let index = 0;
  let map: string | undefined;
  let hintUri: string | undefined;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '') continue;
    if (!line.startsWith('#')) {
      // A segment URI closes the segment its parts belonged to.
      pl.segments.push({ msn, parts: index });
      msn++;
      index = 0;
      continue;
    }
    const colon = line.indexOf(':');
    const tag = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1);
    if (tag === '#EXT-X-TARGETDURATION') pl.targetS = Number(value);
    else if (tag === '#EXT-X-MEDIA-SEQUENCE') msn = Number(value);
    else if (tag === '#EXT-X-MAP') map = attributes(value).URI;
    else if (tag === '#EXT-X-PART') {
      const a = attributes(value);
      if (a.URI) pl.parts.push({ msn, index: index++, uri: a.URI, independent: a.INDEPENDENT === 'YES', map });
    } else if (tag === '#EXT-X-PRELOAD-HINT') {
      const a = attributes(value);
      if (a.TYPE === 'PART' && a.URI) hintUri = a.URI;
    } else if (tag === '#EXT-X-ENDLIST') pl.endList = true;
  }
  if (!Number.isFinite(pl.targetS)) throw new Error('playlist without EXT-X-TARGETDURATION');
  // The hinted part is the next one: the open segment's next index, or the first of the next segment.
  if (hintUri !== undefined) pl.hint = { msn, index, uri: hintUri, independent: false, map };
  return pl;
}

/** The variant URIs of a multivariant playlist (each line after an EXT-X-STREAM-INF), in order; empty for a media playlist. */
export function variantUris(text: string): string[] {
  const lines = text.split('\n').map((l) => l.trim());
  const out: string[] = [];
  lines.forEach((l, i) => {
    const next = lines[i + 1];
    if (l.startsWith('#EXT-X-STREAM-INF:') && next && !next.startsWith('#')) out.push(next);
  });
  return out;
}

/** a before b in (msn, index) order. */
export const partBefore = (a: { msn: number; index: number }, b: { msn: number; index: number }): boolean =>
  a.msn < b.msn || (a.msn === b.msn && a.index < b.index);

/**
 * HLS / LL-HLS over HTTP on the playback port (beside HTTP-FLV):
 *
 *   GET/HEAD /{app}/{name}.m3u8                      what players open: the multivariant playlist (hls.multivariant),
 *                                                    else the media playlist
 *   GET/HEAD /{app}/{name}.fmp4.m3u8                 media playlist (blocking reload: _HLS_msn, _HLS_part)
 *   GET/HEAD /{app}/{name}/init-{hash}.mp4           fMP4 init segment (named by its bytes)
 *   GET/HEAD /{app}/{name}/seg-{msn}.m4s             complete segment
 *   GET/HEAD /{app}/{name}/part-{msn}.{index}.m4s    LL-HLS part (the preload-hinted one is held until built)
 *   GET/HEAD /{app}/{name}.ts.m3u8                   MPEG-TS playlist for players without fMP4 (hls.mpegts)
 *   GET/HEAD /{app}/{name}/seg-{msn}.ts              MPEG-TS segment
 *
 * Segment and part URIs carry the playlist request's query (minus _HLS_
 * parameters), so a signed URL's token reaches them. Caching: playlists
 * for a second, blocking-reload answers (unique URLs) and media for as
 * long as the window can list them; Range requests on media.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { describeError, SluiceError } from '../core/errors.js';
import { cleanName, MAX_QUERY } from '../app/stream-name.js';
import type { ServerContext } from '../app/context.js';
import { AccessRefused, type AccessClient } from '../access/policy.js';
import { blockingReload, mediaPlaylist, multivariantPlaylist, targetDurationS, type PlaylistNames } from '../hls/playlist.js';
import type { HlsService } from './hls-service.js';
import type { HlsSource } from './hls-source.js';
import { peerOf, STATUS_TEXT, type Status } from './http-reply.js';

const PLAYLIST = /^\/([^/]+)\/(.+?)(\.ts|\.fmp4)?\.m3u8$/;
const MEDIA = /^\/([^/]+)\/(.+)\/(?:init-([0-9a-f]{16})\.mp4|seg-(\d{1,10})\.(m4s|ts)|part-(\d{1,10})\.(\d{1,4})\.m4s)$/;
const MPEG_TS = 'video/mp2t';
const MPEGURL = 'application/vnd.apple.mpegurl';
/**
 * Where a URI's query goes in a rendered playlist: a playlist is rendered
 * once per version of the stream (every held reload asks for the same
 * one) and each viewer's query (a signed URL's token) spliced in.
 */
const QUERY = '\u0001';
const withQuery = (text: string, q: string): string => (text.includes(QUERY) ? text.split(QUERY).join(q) : text);
/** rfc8216bis 6.2.5.2: a blocked request is answered 503 if what it asks for has not come within three target durations. */
const BLOCK_TARGETS = 3;

type Asked =
  | { kind: 'playlist'; app: string; name: string }
  | { kind: 'tsPlaylist'; app: string; name: string }
  | { kind: 'mediaPlaylist'; app: string; name: string }
  | { kind: 'init'; app: string; name: string; hash: string }
  | { kind: 'segment'; app: string; name: string; msn: number }
  | { kind: 'tsSegment'; app: string; name: string; msn: number }
  | { kind: 'part'; app: string; name: string; msn: number; index: number };

/** What an HLS URL asks for; undefined when it is not one (or names no valid stream). */
export function parseHlsPath(url: string): Asked | undefined {
  try {
    const p = PLAYLIST.exec(url);
    if (p) return { kind: p[3] === '.ts' ? ('tsPlaylist' as const) : p[3] ? ('mediaPlaylist' as const) : ('playlist' as const), ...names(p[1]!, p[2]!) };
    const m = MEDIA.exec(url);
    if (!m) return undefined;
    const n = names(m[1]!, m[2]!);
    if (m[3]) return { kind: 'init', ...n, hash: m[3] };
    if (m[4]) return { kind: m[5] === 'ts' ? ('tsSegment' as const) : ('segment' as const), ...n, msn: Number(m[4]) };
    return { kind: 'part', ...n, msn: Number(m[6]), index: Number(m[7]) };
  } catch {
    return undefined;
  }
}

function names(app: string, name: string): { app: string; name: string } {
  return { app: cleanName(decodeURIComponent(app), 'app'), name: cleanName(decodeURIComponent(name), 'name') };
}

export interface HlsRoutes {
  handles(url: string): boolean;
  serve(res: HttpResponse, req: HttpRequest, head: boolean): void;
}

interface Reply {
  status: Status;
  type?: string;
  cache?: string;
  body?: Buffer | string;
}

let nextViewer = 1;

export function hlsRoutes(ctx: ServerContext, svc: HlsService, cors: string, secure: boolean): HlsRoutes {
  const cfg = ctx.config.hls;
  const mediaMaxAge = Math.ceil(((cfg.windowSegments + 1) * cfg.segmentMs) / 1000);
  // Delta updates only pay when the window outlasts the six target durations a client must keep (CAN-SKIP-UNTIL).
  const delta = cfg.deltaUpdates && cfg.lowLatency && cfg.windowSegments * cfg.segmentMs > 6 * Math.ceil(cfg.segmentMs / 1000) * 1000;
  const c = svc.counters;

  return {
    handles: (url) => url.endsWith('.m3u8') || url.endsWith('.m4s') || url.endsWith('.mp4') || (cfg.mpegts && url.endsWith('.ts')),
    serve(res, req, head) {
      const url = req.getUrl();
      const params = new URLSearchParams(req.getQuery() ?? '');
      const range = req.getHeader('range');
      const host = req.getHeader('host');
      const pageUrl = req.getHeader('referer');
      let aborted = false;
      let cancel = (): void => {};
      res.onAborted(() => {
        aborted = true;
        cancel();
      });
      const answer = (r: Reply): void => {
        if (aborted) return;
        let body = r.body === undefined ? Buffer.alloc(0) : typeof r.body === 'string' ? Buffer.from(r.body) : r.body;
        let status = r.status;
        let contentRange: string | undefined;
        const media = r.type === 'video/mp4' || r.type === MPEG_TS;
        if (range && status === 200 && media) {
          const part = byteRange(range, body.length);
          if (part === 'bad') {
            status = 416;
            contentRange = `bytes */${body.length}`;
            body = Buffer.alloc(0);
          } else if (part) {
            status = 206;
            contentRange = `bytes ${part.from}-${part.to}/${body.length}`;
            body = body.subarray(part.from, part.to + 1);
          }
        }
        svc.count(status, head ? 0 : body.length);
        res.cork(() => {
          res.writeStatus(STATUS_TEXT[status]).writeHeader('Access-Control-Allow-Origin', cors);
          res.writeHeader('Content-Type', r.type ?? 'text/plain');
          if (r.cache) res.writeHeader('Cache-Control', r.cache);
          if (media) res.writeHeader('Accept-Ranges', 'bytes');
          if (contentRange) res.writeHeader('Content-Range', contentRange);
          if (head) res.endWithoutBody(body.length);
          else res.end(body);
        });
      };
      const fail = (status: Status, why: string): void => answer({ status, body: `${why}\n`, cache: 'no-cache' });

      const asked = parseHlsPath(url);
      if (!asked) return fail(404, 'not an HLS path');
      const ts = asked.kind === 'tsPlaylist' || asked.kind === 'tsSegment';
      if (ts && !cfg.mpegts) return fail(404, 'MPEG-TS HLS is off (hls.mpegts)');
      const blockMsn = params.get('_HLS_msn');
      const blockPart = params.get('_HLS_part');
      // _HLS_skip=YES asks for a delta update (v2, which also skips date ranges, is never offered: CAN-SKIP-DATERANGES is not sent).
      const skip = delta && params.get('_HLS_skip') === 'YES';
      for (const k of [...params.keys()]) if (k.startsWith('_HLS_')) params.delete(k);
      const query = params.toString().slice(0, MAX_QUERY);
      const ip = peerOf(res);
      const viewer = (): AccessClient => ({
        ip, transport: 'hls', clientId: `${ctx.workerId}-hls-${nextViewer++}`, tcUrl: `http${secure ? 's' : ''}://${host}${url}`, pageUrl,
      });

      /** Resolves when `ok()` holds (true) or after `ms` (false), re-checked at every change of the stream. */
      const until = (s: HlsSource, ok: () => boolean, ms: number): Promise<boolean> =>
        new Promise((resolve) => {
          let timer: NodeJS.Timeout | undefined;
          // An end answers too, once the last parts are built (the ended playlist then says ENDLIST).
          const stop = s.wait(() => {
            if (!ok() && (s.endReason === undefined || s.building)) return false;
            clearTimeout(timer);
            resolve(ok());
            return true;
          });
          timer = setTimeout(() => (stop(), resolve(ok())), ms);
          cancel = () => (clearTimeout(timer), stop(), resolve(false));
        });

      const run = async (): Promise<void> => {
        c.requests[asked.kind]++;
        // A viewer of a stream that just ended still reads its last playlist (EXT-X-ENDLIST) and segments.
        let s = svc.endedFor(asked.app, asked.name, query, ip);
        if (!s) {
          if (!(await svc.session(asked.app, asked.name, query, ip, viewer))) return fail(404, 'stream not found');
          s = await svc.stream(asked.app, asked.name);
        }
        if (!s) return fail(404, 'stream not found');
        if (!s.ready) await until(s, () => s.ready, cfg.firstSegmentWaitMs);
        if (aborted) return;
        if (s.unsupported) return fail(415, `not available over HLS: ${s.unsupported}`);
        if (s.view.segments.length === 0) return fail(404, s.endReason ? `stream ended: ${s.endReason}` : 'no segment yet');
        if (ts) {
          const why = s.askTs();
          if (why) return fail(415, `not available over MPEG-TS HLS: ${why}`);
          // The first TS segment comes when the first segment built with TS closes.
          if (s.tsView.segments.length === 0) await until(s, () => s.tsView.segments.length > 0, cfg.firstSegmentWaitMs + 2 * targetDurationS(s.view) * 1000);
          if (aborted) return;
          if (s.tsView.segments.length === 0) return fail(404, s.endReason ? `stream ended: ${s.endReason}` : 'no MPEG-TS segment yet');
        }
        const blockMs = BLOCK_TARGETS * targetDurationS(s.view) * 1000;
        const q = query ? `?${query}` : '';
        const base = encodeURIComponent(asked.name.slice(asked.name.lastIndexOf('/') + 1));

        const tracks = s.trackLayout;
        // A blocking reload is for the media playlist whatever URL it came on.
        // Always multivariant (when on), whatever the tracks: workers that started reading at different points may
        // know different tracks, and one URL must not be a multivariant playlist on one and a media one on another.
        if (asked.kind === 'playlist' && cfg.multivariant && blockMsn === null && tracks) {
          return answer({ status: 200, type: MPEGURL, cache: 'public, max-age=1', body: multivariantPlaylist(s.view, tracks, `${base}.fmp4.m3u8${q}`) });
        }
        if (asked.kind === 'playlist' || asked.kind === 'mediaPlaylist') {
          let cache = 'public, max-age=1';
          if (blockMsn !== null && cfg.lowLatency) {
            c.requests.blocking++;
            const msn = Number(blockMsn);
            const part = blockPart === null ? undefined : Number(blockPart);
            let state: ReturnType<typeof blockingReload>;
            try {
              state = blockingReload(s.view, msn, part);
            } catch (err) {
              return fail(400, describeError(err));
            }
            if (state === 'bad-request') return fail(400, `_HLS_msn=${msn}${part === undefined ? '' : ` _HLS_part=${part}`} is too far ahead of the live edge`);
            if (state === 'wait' && !(await until(s, () => blockingReload(s.view, msn, part) === 'ready', blockMs))) {
              if (aborted) return;
              if (s.endReason === undefined) return fail(503, 'the requested part did not come in time');
            }
            // A blocking answer's URL names one playlist version: a CDN may keep it.
            cache = `public, max-age=${Math.ceil(blockMs / 1000) * 2}`;
          }
          const names: PlaylistNames = {
            segment: (msn) => `${base}/seg-${msn}.m4s${QUERY}`,
            part: (msn, i) => `${base}/part-${msn}.${i}.m4s${QUERY}`,
            init: (v) => `${base}/init-${s.initName(v)}.mp4${QUERY}`,
          };
          const text = s.rendered(skip ? 'fmp4-skip' : 'fmp4', () => mediaPlaylist(s.view, { names, lowLatency: cfg.lowLatency, deltaUpdates: delta, skip }));
          return answer({ status: 200, type: MPEGURL, cache, body: withQuery(text, q) });
        }
        if (asked.kind === 'tsPlaylist') {
          const names: PlaylistNames = { segment: (msn) => `${base}/seg-${msn}.ts${QUERY}`, part: () => '', init: () => undefined };
          const text = s.rendered('ts', () => mediaPlaylist(s.tsView, { names, lowLatency: false }));
          return answer({ status: 200, type: MPEGURL, cache: 'public, max-age=1', body: withQuery(text, q) });
        }
        const media = (bytes: Buffer | undefined): void =>
          bytes ? answer({ status: 200, type: ts ? MPEG_TS : 'video/mp4', cache: `public, max-age=${mediaMaxAge}`, body: bytes }) : fail(404, 'not in the window');
        if (asked.kind === 'init') return media(s.initByName(asked.hash));
        const { msn } = asked;
        const index = asked.kind === 'part' ? asked.index : 0;
        const get = (): Buffer | undefined =>
          asked.kind === 'part' ? s.part(msn, index) : asked.kind === 'tsSegment' ? s.segment(msn)?.ts : s.segment(msn)?.bytes;
        const next = s.view.nextPart;
        // Not built yet but next in line (the preload hint, or a segment still open): held like a blocking reload.
        const ahead = msn > next.msn || (msn === next.msn && (asked.kind !== 'part' || index >= next.index));
        if (!get() && ahead && msn <= next.msn + 1) await until(s, () => get() !== undefined, blockMs);
        return media(get());
      };

      run().catch((err: unknown) => {
        if (err instanceof AccessRefused) {
          ctx.log.warn({ code: 'ERR_ACCESS', reason: err.message, url, peer: ip, protocol: 'hls' }, 'hls play refused');
          return answer({ status: err.status, body: `${err.message}\n` });
        }
        const code = err instanceof SluiceError ? err.code : 'ERR_INTERNAL';
        ctx.log.warn({ code, reason: describeError(err), url, peer: ip, protocol: 'hls' }, 'hls request failed');
        fail(code === 'ERR_LIMIT' ? 503 : 500, code === 'ERR_LIMIT' ? 'server busy' : 'internal error');
      });
    },
  };
}

/** One `bytes=a-b` range (RFC 9110 14.1.2) of `size` bytes; undefined = serve it all; 'bad' = 416. */
export function byteRange(header: string, size: number): { from: number; to: number } | undefined | 'bad' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // several ranges or another unit: the whole body
  let from: number;
  let to: number;
  if (m[1] === '') {
    from = Math.max(0, size - Number(m[2]));
    to = size - 1;
  } else {
    from = Number(m[1]);
    to = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (from >= size || from > to) return 'bad';
  return { from, to };
}

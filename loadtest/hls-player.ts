/**
 * An LL-HLS player for the load generator, playing as Apple's low-latency
 * clients do (draft-pantos-hls-rfc8216bis 6.2.5): fetch the playlist (of a
 * multivariant one, the first variant), start at the live edge (the latest
 * INDEPENDENT=YES part), then per part ask at once for the preload-hinted
 * part (the server holds it until built) and
 * for the blocking reload `_HLS_msn=M&_HLS_part=P` of that same part, which
 * names the hint after it. hls.js (1.x) instead waits for the reload and
 * then fetches the new part: one more round trip per part.
 *
 * Media is counted as delivered bytes (init + part bodies; playlists are
 * overhead, not counted). Each part's bytes are scanned for frame markers
 * (fMP4 keeps the FLV payloads unchanged in mdat), which go to the same
 * handlers as an FLV transport's tags, stamped with the time the whole
 * part had arrived. One keep-alive agent per player, two sockets: the held
 * part and the held reload.
 */
import http from 'node:http';
import https from 'node:https';
import { SluiceError } from '../src/core/errors.js';
import { TagType } from '../src/protocol/types.js';
import { parseLivePlaylist, partBefore, variantUris, type LivePlaylist, type PartRef } from './hls-playlist.js';
import { decodeMarker, MARKER_MAGIC, MARKER_SIZE, MarkerKind } from './marker.js';
import type { PlayerAssignment } from './messages.js';
import type { PlayConnection, PlayHandlers } from './play-transports.js';
import { wallNowMs } from './schedule.js';

/** Pause between two playlist attempts while the stream is not there yet (404) or busy (503). */
const RETRY_MS = 250;
/** Failed rounds in a row (timeouts, 503s, socket errors) after which the player gives up. */
const MAX_FAILURES = 3;
/** What the init segment holds, said to the tally as the FLV sequence headers it replaces (AVC / AAC, packet type 0). */
const VIDEO_HEADER = Buffer.from([0x17, 0x00]);
const AUDIO_HEADER = Buffer.from([0xaf, 0x00]);
const VIDEO_CONFIG_BOXES = ['avcC', 'hvcC', 'av1C'];

export type HlsFetchKind = 'playlist' | 'init' | 'part';

/** Told of every answer read whole (tests check the byte counts against it). */
export type HlsFetchHook = (f: { url: string; kind: HlsFetchKind; status: number; bytes: number }) => void;

/** The playlist URL of a play URL: the FLV template's path with .m3u8 (one template serves every HTTP transport). */
export function hlsPlaylistUrl(playUrl: string): string {
  const u = new URL(playUrl.replace(/^ws(s?):/i, 'http$1:'));
  u.pathname = u.pathname.replace(/\.flv$/, '.m3u8');
  return u.toString();
}

export async function openHls(a: PlayerAssignment, timeoutMs: number, h: PlayHandlers, insecure = false, onFetch?: HlsFetchHook): Promise<PlayConnection> {
  const p = new HlsPlay(hlsPlaylistUrl(a.url), timeoutMs, h, insecure, onFetch);
  let first: LivePlaylist;
  try {
    first = await p.open();
  } catch (err) {
    p.dispose();
    throw err;
  }
  const loop = p.run(first);
  return { close: () => p.close(loop) };
}

interface Answer {
  status: number;
  body: Buffer;
  /** Wall-clock ms the last byte arrived. */
  atMs: number;
}

class HlsPlay {
  private readonly agent: http.Agent;
  private readonly get: typeof http.get;
  private readonly aborter = new AbortController();
  private closing = false;
  private ended = false;
  private initUri: string | undefined;

  constructor(
    /** The playlist asked for; the media playlist once a multivariant one named it. */
    private url: string,
    private readonly timeoutMs: number,
    private readonly h: PlayHandlers,
    insecure: boolean,
    private readonly onFetch: HlsFetchHook | undefined,
  ) {
    const tls = url.startsWith('https:');
    this.agent = tls ? new https.Agent({ keepAlive: true, maxSockets: 2, rejectUnauthorized: !insecure }) : new http.Agent({ keepAlive: true, maxSockets: 2 });
    this.get = tls ? https.get : http.get;
  }

  /**
   * The first media playlist (200), retried while the server says 404 / 503,
   * within timeoutMs. A multivariant playlist's first variant is followed.
   */
  async open(): Promise<LivePlaylist> {
    const deadline = wallNowMs() + this.timeoutMs;
    this.h.onPlayRequested();
    let connected = false;
    for (;;) {
      const r = await this.fetch(this.url, 'playlist', Math.max(1, deadline - wallNowMs()));
      if (r.status === 200) {
        if (!connected) this.h.onConnected();
        connected = true;
        const text = r.body.toString('utf8');
        const variant = variantUris(text)[0];
        if (variant === undefined) return parseLivePlaylist(text);
        this.url = new URL(variant, this.url).toString();
        continue;
      }
      const why = `GET ${this.url}: HTTP ${r.status} ${r.body.toString('utf8').trim()}`;
      if (r.status !== 404 && r.status !== 503) throw new SluiceError('ERR_STREAM', why);
      if (wallNowMs() + RETRY_MS >= deadline) throw new SluiceError('ERR_TIMEOUT', `${why} (still, after ${this.timeoutMs} ms)`);
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  /** Plays until closed, the stream ends, or MAX_FAILURES rounds in a row fail; then reports the close once. */
  async run(first: LivePlaylist): Promise<void> {
    let pl = first;
    const start = liveEdge(pl);
    if (!start) return this.end(new SluiceError('ERR_STREAM', `${this.url}: no EXT-X-PART listed (LL-HLS off?)`));
    let last: PartRef | undefined;
    const isNew = (p: PartRef): boolean => (last ? partBefore(last, p) : !partBefore(p, start));
    let failures = 0;
    while (!this.closing) {
      try {
        // Listed parts after the last one we have (catching up, or after a miss); one gone from the window is a gap.
        for (const p of pl.parts) {
          if (!isNew(p)) continue;
          if (!(await this.part(p))) this.h.onError?.(new SluiceError('ERR_STREAM', `${this.url}: listed part ${p.msn}.${p.index} not served`));
          last = p;
        }
        if (pl.endList) return this.end(new SluiceError('ERR_PROTOCOL', `${this.url}: stream ended (EXT-X-ENDLIST)`));
        const hint = pl.hint;
        if (!hint) return this.end(new SluiceError('ERR_PROTOCOL', `${this.url}: no EXT-X-PRELOAD-HINT on a live playlist`));
        // Both held by the server until the hinted part is built; they come back together.
        const reload = this.fetch(reloadUrl(this.url, hint), 'playlist', this.heldMs(pl));
        reload.catch(() => undefined); // awaited below; not unhandled meanwhile
        const got = await this.part(hint, this.heldMs(pl));
        if (got) last = hint;
        const r = await reload;
        if (r.status === 404 && last) return this.end(new SluiceError('ERR_PROTOCOL', `${this.url}: stream gone (404)`));
        if (r.status !== 200) throw new SluiceError('ERR_STREAM', `GET ${this.url} blocking reload: HTTP ${r.status} ${r.body.toString('utf8').trim()}`);
        pl = parseLivePlaylist(r.body.toString('utf8'));
        if (got) failures = 0;
        else throw new SluiceError('ERR_STREAM', `${this.url}: hinted part ${hint.msn}.${hint.index} not served`);
      } catch (err) {
        if (this.closing) break;
        if (++failures >= MAX_FAILURES) return this.end(err as Error);
        this.h.onError?.(err as Error);
        // Start over from a plain playlist (resynchronises after a miss).
        await new Promise((r) => setTimeout(r, RETRY_MS));
        try {
          const r = await this.fetch(this.url, 'playlist', this.timeoutMs);
          if (r.status === 200) pl = parseLivePlaylist(r.body.toString('utf8'));
        } catch {
          // the next round fails and counts
        }
      }
    }
    this.end();
  }

  /** Fetches part `p` (after its init, if new); true once its bytes are tallied, false when the server did not have it. */
  private async part(p: PartRef, ms = this.timeoutMs): Promise<boolean> {
    if (p.map !== undefined && p.map !== this.initUri) await this.init(p.map);
    const r = await this.fetch(new URL(p.uri, this.url).toString(), 'part', ms);
    if (r.status !== 200) return false;
    this.h.onBytes(r.body.length);
    this.markers(r.body, r.atMs);
    return true;
  }

  private async init(uri: string): Promise<void> {
    const r = await this.fetch(new URL(uri, this.url).toString(), 'init', this.timeoutMs);
    if (r.status !== 200) throw new SluiceError('ERR_STREAM', `GET ${uri}: HTTP ${r.status}`);
    this.initUri = uri;
    this.h.onBytes(r.body.length);
    if (VIDEO_CONFIG_BOXES.some((box) => r.body.includes(box, 0, 'latin1'))) this.h.onTag(TagType.Video, VIDEO_HEADER, r.atMs);
    if (r.body.includes('esds', 0, 'latin1')) this.h.onTag(TagType.Audio, AUDIO_HEADER, r.atMs);
  }

  /** Every valid marker in a part, in order, handed on as a tag of its kind holding just the marker. */
  private markers(body: Buffer, atMs: number): void {
    for (let at = body.indexOf(MARKER_MAGIC); at >= 0; at = body.indexOf(MARKER_MAGIC, at + 1)) {
      const m = decodeMarker(body, at);
      if (!m) continue;
      this.h.onTag(m.kind === MarkerKind.Video ? TagType.Video : TagType.Audio, body.subarray(at, at + MARKER_SIZE), atMs);
      at += MARKER_SIZE - 1;
    }
  }

  /** Bound on a held request: the server gives up after three target durations (then 503). */
  private heldMs(pl: LivePlaylist): number {
    return 3 * pl.targetS * 1000 + this.timeoutMs;
  }

  /** One GET on the player's keep-alive agent, read whole. */
  private fetch(url: string, kind: HlsFetchKind, ms: number): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = this.get(url, { agent: this.agent, signal: this.aborter.signal, headers: { 'user-agent': 'sluice-loadtest' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => {
          clearTimeout(timer);
          const body = Buffer.concat(chunks);
          const status = res.statusCode ?? 0;
          this.onFetch?.({ url, kind, status, bytes: body.length });
          resolve({ status, body, atMs: wallNowMs() });
        });
        res.once('error', reject);
      });
      const timer = setTimeout(() => req.destroy(new SluiceError('ERR_TIMEOUT', `GET ${url}: no answer within ${Math.round(ms)} ms`)), ms);
      req.on('socket', (s) => s.setNoDelay(true));
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Reports the close once: no error when we closed it. */
  private end(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.dispose();
    this.h.onClose(this.closing ? undefined : (err ?? new SluiceError('ERR_PROTOCOL', `${this.url}: ended`)));
  }

  /** Drops whatever is in flight and every socket. */
  dispose(): void {
    this.aborter.abort();
    this.agent.destroy();
  }

  async close(loop: Promise<void>): Promise<void> {
    this.closing = true;
    this.aborter.abort();
    await loop;
  }
}

/** Where a player starts: the latest part that starts with a keyframe (else the oldest listed). */
function liveEdge(pl: LivePlaylist): PartRef | undefined {
  for (let i = pl.parts.length - 1; i >= 0; i--) if (pl.parts[i]!.independent) return pl.parts[i];
  return pl.parts[0];
}

function reloadUrl(playlist: string, p: { msn: number; index: number }): string {
  const u = new URL(playlist);
  u.searchParams.set('_HLS_msn', String(p.msn));
  u.searchParams.set('_HLS_part', String(p.index));
  return u.toString();
}

/**
 * HLS / LL-HLS on the playback port of one server (src/http/hls-route.ts):
 * ffprobe and ffmpeg read a live libx264 + AAC clip published with
 * `ffmpeg -re`, and get the clip's packets; the playlists keep RFC 8216 /
 * rfc8216bis rules over reloads (checked by m3u8.ts, not by the writer's
 * code); blocking reloads, the preload-hinted part, segment and part bytes,
 * byte ranges, HEAD, CORS, 404s; and what a player sees when the stream
 * ends. The cluster case is hls-cluster.test.ts, the memory bound hls-memory.test.ts.
 *
 * Segments of 1 s (the clip's GOP: a keyframe every 25 frames at 25 fps)
 * and parts of 200 ms (5 frames), so a playlist fills in a few seconds.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { RunningServer } from '../../src/process/single.js';
import { ffprobePath, framemd5, makeClip, play, publish, type Clip, type FfmpegProcess } from '../helpers/ffmpeg.js';
import type { Framemd5 } from '../helpers/framemd5.js';
import { assertContiguousRun, assertMonotonic, describeRun } from '../helpers/packet-run.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import type { SyntheticPublisher } from '../helpers/synthetic-publisher.js';
import { rawRequest } from '../helpers/raw-http.js';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { sleep, waitFor, withTimeout } from '../helpers/net.js';
import { walk } from './box-reader.js';
import { allParts, parseMediaPlaylist, playlistProblems, reloadProblems, type MediaPlaylist, type Part } from './m3u8.js';
import { playlist, request, resolveUri } from './hls-client.js';

const CORS = 'https://player.example';
const GOP = 25;
const HLS = { segmentMs: 1000, partMs: 200, windowSegments: 4, firstSegmentWaitMs: 1500 };
/** A query a signed URL would carry: every segment and part URI must keep it. */
const TOKEN = 'token=abc';

let srv: RunningServer;
let clip: Clip;
let ref: Framemd5;
let pub: FfmpegProcess;
const procs: FfmpegProcess[] = [];
const rtmp = new RtmpClientPool();

const url = (path: string): string => `http://127.0.0.1:${srv.httpPort}${path}`;
/** The fMP4 media playlist; `/live/clip.m3u8` (what players open) is the multivariant playlist naming it. */
const clipUrl = (q = TOKEN): string => url(`/live/clip.fmp4.m3u8${q ? `?${q}` : ''}`);
const entryUrl = (q = TOKEN): string => url(`/live/clip.m3u8${q ? `?${q}` : ''}`);

before(async () => {
  srv = await startTestServer({ http: { corsOrigin: CORS }, hls: HLS, media: { playWaitMs: 300, republishGraceMs: 300 } });
  clip = await makeClip({ seconds: 20, fps: 25, gop: GOP, width: 160, height: 120 });
  ref = await framemd5(clip.file);
  pub = publish(`rtmp://127.0.0.1:${srv.rtmpPort}/live/clip`, clip);
  procs.push(pub);
  await waitFor(() => srv.directory.homeOf('live/clip') !== undefined, 5000, 'live/clip published');
});

after(async () => {
  rtmp.closeAll();
  await Promise.all(procs.map((p) => p.kill(1000)));
  await closeServer(srv);
});

/** The clip's playlist once it lists at least `n` complete segments. */
async function withSegments(n: number, q = TOKEN): Promise<MediaPlaylist> {
  let pl: MediaPlaylist | undefined;
  await waitFor(async () => {
    const a = await request(clipUrl(q));
    if (a.status !== 200) return false;
    pl = (await playlist(clipUrl(q))).pl;
    return pl.segments.length >= n;
  }, 10_000, `${n} complete segments`, 200);
  return pl!;
}

/** (msn, index) of a part URI as this server names it: `{name}/part-{msn}.{index}.m4s`. */
function partOf(uri: string): { msn: number; index: number } {
  const m = /(?:^|\/)part-(\d+)\.(\d+)\.m4s(\?|$)/.exec(uri);
  assert.ok(m, `not a part URI: ${uri}`);
  return { msn: Number(m[1]), index: Number(m[2]) };
}

/** The part the preload hint names. */
function hinted(pl: MediaPlaylist): { msn: number; index: number; uri: string } {
  assert.ok(pl.preloadHint?.URI, 'a preload hint');
  return { ...partOf(pl.preloadHint.URI), uri: pl.preloadHint.URI };
}

/** The part after the newest one listed: the open segment's next, or the first of the segment after the last. */
function nextPart(pl: MediaPlaylist): { msn: number; index: number } {
  const open = pl.openParts;
  if (open.length > 0) return { msn: open[0]!.msn, index: open.length };
  return { msn: pl.mediaSequence + pl.segments.length, index: 0 };
}

const listed = (pl: MediaPlaylist, p: { msn: number; index: number }): Part | undefined => allParts(pl).find((x) => x.msn === p.msn && x.index === p.index);

function ffprobeStreams(input: string): Promise<Array<{ codec_type: string; codec_name: string }>> {
  return new Promise((resolve, reject) => {
    execFile(ffprobePath, ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name', '-of', 'json', input], { timeout: 15_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`ffprobe ${input}: ${err.message} ${stderr}`)) : resolve(JSON.parse(stdout).streams),
    );
  });
}

// ---- cases -------------------------------------------------------------------

test('ffprobe reads the HLS playlist: exactly one h264 video and one aac audio stream', { timeout: 30_000 }, async () => {
  await withSegments(1);
  const streams = await ffprobeStreams(entryUrl());
  assert.deepEqual(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:aac', 'video:h264']);
});

test('the .m3u8 players open is a multivariant playlist: CODECS from the records, RESOLUTION, BANDWIDTH, the media playlist with the query', { timeout: 30_000 }, async () => {
  await withSegments(2);
  const a = await request(entryUrl());
  assert.equal(a.status, 200);
  const text = a.body.toString();
  const lines = text.trim().split('\n');
  assert.equal(lines[0], '#EXTM3U');
  assert.ok(lines.includes('#EXT-X-INDEPENDENT-SEGMENTS'), text);
  assert.doesNotMatch(text, /#EXTINF|#EXT-X-TARGETDURATION/, 'no media playlist tags');
  const inf = lines.find((l) => l.startsWith('#EXT-X-STREAM-INF:'))!;
  // libx264 High (0x64) at its level, AAC-LC.
  assert.match(inf, /CODECS="avc1\.64[0-9a-f]{4},mp4a\.40\.2"/, inf);
  assert.match(inf, /RESOLUTION=160x120/, inf);
  const bw = Number(/[:,]BANDWIDTH=(\d+)/.exec(inf)?.[1]);
  const avg = Number(/AVERAGE-BANDWIDTH=(\d+)/.exec(inf)?.[1]);
  assert.ok(avg > 0 && bw >= avg, `BANDWIDTH ${bw} >= AVERAGE-BANDWIDTH ${avg} > 0`);
  assert.equal(lines[lines.indexOf(inf) + 1], `clip.fmp4.m3u8?${TOKEN}`, 'the media playlist, relative, with the query');
  // A blocking reload is a media playlist request whichever URL it comes on.
  const pl = await withSegments(1);
  const held = await request(entryUrl(`${TOKEN}&_HLS_msn=${pl.mediaSequence}`));
  assert.equal(held.status, 200);
  assert.match(held.body.toString(), /#EXTINF/);
});

test('ffmpeg plays the live HLS playlist: keyframe-first contiguous runs of the clip\'s video and audio packets', { timeout: 30_000 }, async (t) => {
  // ffmpeg starts a live playlist three segments from its end: with four listed, that is a later GOP than the first.
  await withSegments(HLS.windowSegments);
  const player = play(entryUrl(), { seconds: 3 });
  procs.push(player);
  const r = await withTimeout(player.done, 20_000, 'ffmpeg HLS player');
  assert.equal(r.exit.code, 0, `player exit ${r.exit.code ?? r.exit.signal}:\n${r.stderr.slice(-2000)}`);
  const run = assertContiguousRun(r, ref, { gop: GOP });
  assertMonotonic(r);
  t.diagnostic(`HLS player: ${describeRun(run)}`);
  assert.ok(run.video.length >= 60, `${run.video.length} video packets for 3 s`);
  assert.ok(run.audio.length >= 100, `${run.audio.length} audio packets for 3 s`);
  assert.ok(run.video.start >= GOP, `started at keyframe #${run.video.start}, a live window, not the stream's first frame`);
  assert.doesNotMatch(r.stderr, /Failed to open segment|HTTP error|Invalid data/i, 'ffmpeg fetched every segment');
});

test('playlist rules hold over successive reloads; URIs keep the query; the init segment is an ftyp + moov', { timeout: 30_000 }, async (t) => {
  await withSegments(2);
  const seen: MediaPlaylist[] = [];
  for (let i = 0; i < 12; i++) {
    const { pl, text, answer } = await playlist(clipUrl());
    assert.equal(answer.headers['content-type'], 'application/vnd.apple.mpegurl');
    assert.equal(answer.headers['cache-control'], 'public, max-age=1');
    assert.equal(answer.headers['access-control-allow-origin'], CORS);
    assert.deepEqual(playlistProblems(pl), [], text);
    assert.equal(pl.partTarget, HLS.partMs / 1000, 'PART-TARGET is hls.partMs');
    assert.equal(pl.version, 6);
    const prev = seen[seen.length - 1];
    if (prev) assert.deepEqual(reloadProblems(prev, pl), [], `reload ${i}:\n${text}`);
    for (const s of pl.segments) {
      assert.equal(s.uri, `clip/seg-${s.msn}.m4s?${TOKEN}`, 'segment URI: relative, named by msn, with the query');
      assert.equal(s.duration, 1, `segment ${s.msn}: one GOP of the clip, 1.000 s`);
    }
    for (const s of [...pl.segments.map((x) => x.parts), pl.openParts]) {
      for (const p of s) {
        assert.equal(p.uri, `clip/part-${p.msn}.${p.index}.m4s?${TOKEN}`, 'part URI');
        assert.equal(p.independent, p.index === 0, `part ${p.msn}.${p.index}: INDEPENDENT=YES exactly on the segment's keyframe part`);
      }
    }
    const h = hinted(pl);
    assert.deepEqual({ msn: h.msn, index: h.index }, nextPart(pl), `the preload hint names the next part:\n${text}`);
    assert.ok(h.uri.endsWith(`?${TOKEN}`), 'hint URI keeps the query');
    seen.push(pl);
    await sleep(250);
  }
  const first = seen[0]!;
  const last = seen[seen.length - 1]!;
  const lastMsn = (pl: MediaPlaylist): number => pl.mediaSequence + pl.segments.length - 1;
  t.diagnostic(`segments ${first.mediaSequence}..${lastMsn(first)} -> ${last.mediaSequence}..${lastMsn(last)}`);
  assert.ok(lastMsn(last) >= lastMsn(first) + 2, 'the reloads saw new segments come (so the reload rules compared something)');
  assert.ok(last.mediaSequence > first.mediaSequence, 'and old ones slide out of the window');
  assert.ok(last.segments.length <= HLS.windowSegments, `at most hls.windowSegments (${HLS.windowSegments}) complete segments`);

  const map = last.segments[0]!.map!;
  assert.match(map, new RegExp(`^clip/init-[0-9a-f]{16}\\.mp4\\?${TOKEN}$`));
  const init = await request(resolveUri(clipUrl(), map));
  assert.equal(init.status, 200);
  assert.equal(init.headers['content-type'], 'video/mp4');
  const boxes = walk(init.body);
  assert.deepEqual(boxes.map((b) => b.type), ['ftyp', 'moov']);
  assert.equal(boxes[1]!.children.filter((b) => b.type === 'trak').length, 2, 'a video and an audio trak');
});

test('blocking reload: the next part\'s playlist arrives and lists it; too far ahead is 400; the hinted part is held until built', { timeout: 30_000 }, async (t) => {
  const { pl } = await playlist(clipUrl());
  const want = nextPart(pl);
  const blocked = await request(clipUrl(`${TOKEN}&_HLS_msn=${want.msn}&_HLS_part=${want.index}`));
  const text = blocked.body.toString();
  assert.equal(blocked.status, 200, text);
  t.diagnostic(`blocking reload for ${want.msn}.${want.index} answered in ${blocked.tookMs} ms`);
  const bpl = parseMediaPlaylist(text);
  assert.ok(listed(bpl, want), `the answer lists part ${want.msn}.${want.index}:\n${text}`);
  assert.deepEqual(playlistProblems(bpl), [], text);
  assert.ok(!text.includes('_HLS_'), 'the _HLS_ parameters do not leak into the URIs');
  assert.ok(allParts(bpl).every((p) => p.uri.endsWith(`?${TOKEN}`)), 'the other query parameters stay');
  const maxAge = Number(/max-age=(\d+)/.exec(String(blocked.headers['cache-control']))?.[1]);
  assert.ok(maxAge > 1, `a blocking answer is cacheable for longer than a plain reload (${blocked.headers['cache-control']})`);
  assert.ok(bpl.mediaSequence >= pl.mediaSequence);

  // Just after a segment started (the next boundary a second away): three segments past the newest is 400.
  const { pl: fresh } = await playlist(clipUrl(`_HLS_msn=${pl.mediaSequence + pl.segments.length + 1}&_HLS_part=0`));
  const newest = fresh.openParts.length > 0 ? fresh.openParts[0]!.msn : fresh.mediaSequence + fresh.segments.length - 1;
  const far = await request(clipUrl(`_HLS_msn=${newest + 3}`));
  assert.equal(far.status, 400, `_HLS_msn=${newest + 3} with ${newest} the newest: ${far.body.toString()}`);
  assert.equal(far.headers['access-control-allow-origin'], CORS);
  // rfc8216bis 6.2.5.2: a part more than the Advance Part Limit (3 / 0.2 s = 15 parts) ahead is 400 too.
  const latest = allParts(fresh).at(-1)!;
  const farPart = await request(clipUrl(`_HLS_msn=${latest.msn}&_HLS_part=${latest.index + 16}`));
  assert.equal(farPart.status, 400, `_HLS_part ${latest.index + 16} with ${latest.msn}.${latest.index} the latest`);
  const bad = await request(clipUrl('_HLS_msn=x'));
  assert.equal(bad.status, 400, '_HLS_msn not a number');

  // The hinted part, asked for before it exists: held, then its moof + mdat.
  const { pl: now } = await playlist(clipUrl());
  const h = hinted(now);
  assert.equal(listed(now, h), undefined, 'the hinted part is not listed yet');
  const early = await request(resolveUri(clipUrl(), h.uri));
  assert.equal(early.status, 200, early.body.toString());
  assert.equal(early.headers['content-type'], 'video/mp4');
  assert.deepEqual(walk(early.body).map((b) => b.type), ['moof', 'mdat'], 'one fragment');
  t.diagnostic(`hinted part ${h.msn}.${h.index} answered in ${early.tookMs} ms, ${early.body.length} bytes`);
  const after = (await playlist(clipUrl())).pl;
  assert.ok(listed(after, h), `part ${h.msn}.${h.index} is listed once built`);
  const again = await request(resolveUri(clipUrl(), h.uri));
  assert.ok(again.body.equals(early.body), 'the part fetched again is the same bytes');
});

test('segment bytes are its parts\' bytes; Range 206/416, HEAD, CORS; 404 for unknown streams, gone segments and far-future ones', { timeout: 30_000 }, async () => {
  const { pl } = await playlist(clipUrl());
  const seg = [...pl.segments].reverse().find((s) => s.parts.length > 0);
  assert.ok(seg, 'a complete segment with its parts listed');
  const segUrl = resolveUri(clipUrl(), seg.uri);
  const whole = await request(segUrl);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers['content-type'], 'video/mp4');
  assert.equal(whole.headers['access-control-allow-origin'], CORS);
  assert.equal(whole.headers['accept-ranges'], 'bytes');
  assert.match(String(whole.headers['cache-control']), /^public, max-age=[1-9]\d*$/);
  const parts = await Promise.all(seg.parts.map((p) => request(resolveUri(clipUrl(), p.uri))));
  assert.deepEqual(parts.map((p) => p.status), seg.parts.map(() => 200));
  assert.ok(Buffer.concat(parts.map((p) => p.body)).equals(whole.body), `segment ${seg.msn} (${whole.body.length} bytes) is its ${seg.parts.length} parts concatenated`);
  assert.deepEqual(walk(whole.body).map((b) => b.type), seg.parts.flatMap(() => ['moof', 'mdat']));

  const size = whole.body.length;
  const range = await request(segUrl, { headers: { range: 'bytes=0-99' } });
  assert.equal(range.status, 206);
  assert.equal(range.headers['content-range'], `bytes 0-99/${size}`);
  assert.ok(range.body.equals(whole.body.subarray(0, 100)), 'the first 100 bytes');
  const tail = await request(segUrl, { headers: { range: 'bytes=-10' } });
  assert.equal(tail.status, 206);
  assert.ok(tail.body.equals(whole.body.subarray(size - 10)), 'a suffix range: the last 10 bytes');
  const past = await request(segUrl, { headers: { range: `bytes=${size}-` } });
  assert.equal(past.status, 416);
  assert.equal(past.headers['content-range'], `bytes */${size}`);

  const path = new URL(segUrl).pathname + new URL(segUrl).search;
  const head = await rawRequest(srv.httpPort!, `HEAD ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
  assert.equal(head.status, 200);
  assert.equal(Number(head.headers['content-length']), size, 'HEAD: the GET\'s length');
  assert.equal(head.body.length, 0, 'HEAD: no body');
  const headPl = await rawRequest(srv.httpPort!, 'HEAD /live/clip.fmp4.m3u8 HTTP/1.1\r\nHost: t\r\n\r\n');
  assert.equal(headPl.status, 200);
  assert.ok(Number(headPl.headers['content-length']) > 100);
  assert.equal(headPl.body.length, 0);

  const unknown = await request(url('/live/nobody.m3u8'));
  assert.equal(unknown.status, 404, 'a stream nobody publishes');
  assert.equal(unknown.headers['access-control-allow-origin'], CORS, 'a browser player can read the 404');
  assert.equal((await request(url('/live/nobody/seg-0.m4s'))).status, 404);
  assert.equal((await request(url('/live/clip/init-0123456789abcdef.mp4'))).status, 404, 'an init hash that is not this stream\'s');

  const gone = pl.mediaSequence - 1;
  assert.ok(gone >= 0, `segments have left the window (MEDIA-SEQUENCE ${pl.mediaSequence})`);
  assert.equal((await request(url(`/live/clip/seg-${gone}.m4s`))).status, 404, `segment ${gone}, out of the window`);
  assert.equal((await request(url(`/live/clip/part-${gone}.0.m4s`))).status, 404, `a part of segment ${gone}`);
  const future = await request(url(`/live/clip/seg-${pl.mediaSequence + pl.segments.length + 10}.m4s`));
  assert.equal(future.status, 404, 'a segment ten ahead is not held');
  assert.ok(future.tookMs < 1000, `answered at once (${future.tookMs} ms), not held`);
});

/** A synthetic stream `name` (1 s GOPs) live with at least two complete segments; returns its publisher and playlist. */
async function liveSynthetic(name: string): Promise<{ src: SyntheticPublisher; pl: MediaPlaylist; plUrl: string }> {
  const src = await rtmp.publisher(rtmpUrl(srv.rtmpPort), name, { gop: GOP, frameMs: 40, videoBytes: 1500 });
  src.headers();
  src.start();
  const plUrl = url(`/live/${name}.fmp4.m3u8`);
  let pl: MediaPlaylist | undefined;
  await waitFor(async () => {
    const a = await request(plUrl);
    if (a.status === 200) pl = parseMediaPlaylist(a.body.toString());
    return (pl?.segments.length ?? 0) >= 2;
  }, 10_000, `two segments of live/${name}`, 200);
  return { src, pl: pl!, plUrl };
}

test('end of stream: a blocking reload held when the stream ends is answered with the last segment closed and EXT-X-ENDLIST', { timeout: 30_000 }, async (t) => {
  const { src, pl: live, plUrl } = await liveSynthetic('ends');
  const h = hinted(live);
  // Two parts past the hint (400 ms of frames) will not come before the publisher goes.
  const held = request(`${plUrl}?_HLS_msn=${h.msn}&_HLS_part=${h.index + 2}`);
  await sleep(50);
  src.stop();
  src.c.destroy();
  const stoppedAt = Date.now();
  const answer = await held;
  const text = answer.body.toString();
  assert.equal(answer.status, 200, text);
  t.diagnostic(`held reload answered ${Date.now() - stoppedAt} ms after the publisher left (republishGraceMs 300)`);
  const end = parseMediaPlaylist(text);
  assert.deepEqual(reloadProblems(live, end), [], 'the answer only adds to the live playlist');
  // The segmenter closes the last segment and ends (Segmenter.end()); the answer must say so, not hint at a part that never comes.
  assert.ok(end.endList, `EXT-X-ENDLIST in the answer to a reload held over the end:\n${text}`);
  assert.equal(end.preloadHint, undefined, 'no preload hint after the end');
  assert.equal(end.openParts.length, 0, 'the last segment is closed: no parts without an EXTINF');
  assert.deepEqual(playlistProblems(end), []);
  const lastSeg = end.segments.at(-1)!;
  assert.ok(lastSeg.msn >= h.msn, `the segment being written (${h.msn}) is listed complete (last ${lastSeg.msn})`);
});

test('after the stream ends, its viewers reload the ended playlist (EXT-X-ENDLIST, segments still served) for three target durations, then 404; a new viewer gets 404', { timeout: 30_000 }, async (t) => {
  const { src, plUrl } = await liveSynthetic('ends2');
  src.stop();
  src.c.destroy();
  const statuses: string[] = [];
  let ended: MediaPlaylist | undefined;
  await waitFor(async () => {
    const a = await request(plUrl);
    assert.equal(a.status, 200, `no 404 while the viewer's stream ends: ${a.body.toString()}`);
    const pl = parseMediaPlaylist(a.body.toString());
    statuses.push(pl.endList ? '200+ENDLIST' : '200');
    if (pl.endList) ended = pl;
    return ended !== undefined;
  }, 5000, 'EXT-X-ENDLIST', 100);
  // Within the grace (3 x 1 s targets) the viewer keeps reading the end, and its segments.
  const endedAt = Date.now();
  for (let i = 0; i < 5; i++) {
    const a = await request(plUrl);
    assert.equal(a.status, 200);
    assert.ok(parseMediaPlaylist(a.body.toString()).endList, 'still the ended playlist');
    await sleep(200);
  }
  const last = ended!.segments[ended!.segments.length - 1]!;
  assert.equal((await request(resolveUri(plUrl, last.uri))).status, 200, 'the last segment is still served');
  assert.equal((await request(`${plUrl}?viewer=new`)).status, 404, 'a viewer who never watched it is not served the ended stream');
  await waitFor(async () => (await request(plUrl)).status === 404, 8000, 'a 404 once the grace is over', 200);
  t.diagnostic(`reloads until the end: ${statuses.join(' ')}; 404 after ${Date.now() - endedAt} ms`);
  assert.ok(Date.now() - endedAt >= 1000, 'not gone at once');
});

/**
 * MPEG-TS HLS (`/{app}/{name}.ts.m3u8`, hls.mpegts) for players without
 * fMP4: a libx264 + AAC clip published over RTMP comes out as a plain RFC
 * 8216 playlist of `.ts` segments (no EXT-X-MAP, no parts) that ffprobe
 * reads as h264 + aac, and whose decoded pictures are a contiguous run of
 * the clip's from a keyframe. Each segment is whole 188-byte packets whose
 * continuity counters run on per PID (the parts it was built from are
 * renumbered when they join). Also: the same bytes on every fetch, Range,
 * and the switch that turns it off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withServer } from '../helpers/server-harness.js';
import { sleep, waitFor } from '../helpers/net.js';
import { makeClip, runFfmpeg, tmpFile } from '../helpers/ffmpeg.js';
import { readClip } from '../helpers/clip-tags.js';
import { buildAudioSpecificConfig } from '../../src/protocol/aac.js';
import { clipFrames, sendFrames, sendHeaders } from './clip-feed.js';
import { ffprobe } from './ffmpeg-check.js';

const GOP = 25;
const HLS = { segmentMs: 1000, partMs: 200, windowSegments: 4, firstSegmentWaitMs: 3000 };

async function fetchOk(url: string, init?: RequestInit): Promise<Response> {
  const r = await fetch(url, init);
  assert.ok(r.status === 200 || r.status === 206, `${url}: ${r.status} ${await r.clone().text()}`);
  return r;
}

/** Per packet: 188 bytes, sync byte, and per PID a counter one past the last (payload) or equal (adaptation only). */
function tsProblems(b: Buffer): string[] {
  const out: string[] = [];
  if (b.length % 188 !== 0) out.push(`${b.length} bytes is not whole packets`);
  const last = new Map<number, number>();
  for (let at = 0; at + 188 <= b.length; at += 188) {
    if (b[at] !== 0x47) out.push(`no sync byte at ${at}`);
    const pid = ((b[at + 1]! & 0x1f) << 8) | b[at + 2]!;
    const payload = (b[at + 3]! & 0x10) !== 0;
    const cc = b[at + 3]! & 0x0f;
    const prev = last.get(pid);
    if (prev !== undefined && cc !== (payload ? (prev + 1) & 15 : prev)) out.push(`pid ${pid} at ${at}: cc ${cc} after ${prev}`);
    last.set(pid, cc);
  }
  return out;
}

/** Decoded video pictures of a file or playlist, as framemd5 hashes. */
async function pictures(input: string): Promise<string[]> {
  const out = await runFfmpeg(['-loglevel', 'error', '-i', input, '-map', '0:v', '-f', 'framemd5', 'pipe:1'], 60_000);
  return out.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').pop()!.trim());
}

test('MPEG-TS HLS: .ts segments ffmpeg decodes into the clip\'s pictures, continuity counters running on, same bytes each fetch', { timeout: 90_000 }, async () => {
  const clip = await makeClip({ seconds: 6, fps: 25, gop: GOP, width: 160, height: 120 });
  const ref = readClip(clip);
  await withServer({ hls: HLS }, async (h) => {
    const name = 'hls-ts';
    const pub = await h.client();
    await pub.publish(name);
    sendHeaders(pub, ref);
    const base = `http://127.0.0.1:${h.srv.httpPort}/live`;
    // Half the clip, then a TS request (TS is built from then on), then the rest: what came before has no TS.
    const frames = clipFrames(ref);
    const half = frames.findIndex((t) => t.ts >= 3000);
    await sendFrames(pub, frames.slice(0, half));
    // The stream's HLS is up (its segments built) before TS is asked for, so the TS request is taken at once.
    await waitFor(async () => (await fetch(`${base}/${name}.fmp4.m3u8`)).status === 200, 10_000, 'fMP4 HLS up');
    const first = fetch(`${base}/${name}.ts.m3u8`);
    await waitFor(() => h.srv.ctx.hls!.stats().requests.tsPlaylist > 0, 5000, 'the TS request taken');
    await sleep(100);
    await sendFrames(pub, frames.slice(half));
    const firstText = await (await first).text();
    assert.match(firstText, /#EXTINF/, 'the first TS playlist request is answered once a TS segment exists');
    let text = '';
    await waitFor(async () => {
      text = await (await fetchOk(`${base}/${name}.ts.m3u8`)).text();
      return (text.match(/\.ts\n/g) ?? []).length >= 2;
    }, 10_000, 'two TS segments', 200);
    assert.doesNotMatch(text, /EXT-X-MAP|EXT-X-PART|PRELOAD-HINT|CAN-BLOCK-RELOAD/, 'a plain RFC 8216 playlist');
    const uris = [...text.matchAll(/^(hls-ts\/seg-(\d+)\.ts)$/gm)].map((m) => m[1]!);
    assert.ok(uris.length >= 2, text);

    const dir = tmpFile('hls-ts');
    mkdirSync(path.join(dir, name), { recursive: true });
    for (const u of uris) {
      const r = await fetchOk(`${base}/${u}`);
      assert.equal(r.headers.get('content-type'), 'video/mp2t');
      const bytes = Buffer.from(await r.arrayBuffer());
      assert.deepEqual(tsProblems(bytes), [], `${u} packets`);
      const again = Buffer.from(await (await fetchOk(`${base}/${u}`)).arrayBuffer());
      assert.ok(again.equals(bytes), `${u}: the same bytes on every fetch`);
      writeFileSync(path.join(dir, u), bytes);
    }
    const ranged = await fetchOk(`${base}/${uris[0]}`, { headers: { range: 'bytes=188-375' } });
    assert.equal(ranged.status, 206);
    assert.equal(Buffer.from(await ranged.arrayBuffer())[0], 0x47, 'a ranged packet');
    // The fMP4 playlist lists segments from before the TS request; the TS one only those built with TS.
    const fmp4 = await (await fetchOk(`${base}/${name}.fmp4.m3u8`)).text();
    const fmp4First = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(fmp4)![1]);
    const tsFirst = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]);
    assert.ok(tsFirst > fmp4First, `TS starts at ${tsFirst}, after fMP4's ${fmp4First}`);
    assert.equal((await fetch(`${base}/${name}/seg-${fmp4First}.ts`)).status, 404, 'a segment built before TS was asked for has no TS');

    const local = path.join(dir, 'index.m3u8');
    writeFileSync(local, text + '#EXT-X-ENDLIST\n');
    const streams = await ffprobe(local);
    assert.deepEqual(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:aac', 'video:h264']);
    const got = await pictures(local);
    const want = await pictures(clip.file);
    const from = want.indexOf(got[0]!);
    assert.ok(from >= 0 && from % GOP === 0, `the first picture is a keyframe of the clip (${from})`);
    assert.deepEqual(got, want.slice(from, from + got.length), `pictures ${from}..${from + got.length}`);
    assert.ok(got.length >= 2 * GOP, `${got.length} pictures`);
  });
});

test('a stream MPEG-TS cannot carry (AAC at 50 kHz, outside the ADTS rate table) gets 415 on its TS playlist, and its fMP4 HLS goes on', { timeout: 60_000 }, async () => {
  const clip = await makeClip({ seconds: 4, fps: 25, gop: GOP, width: 160, height: 120 });
  const ref = readClip(clip);
  await withServer({ hls: HLS }, async (h) => {
    const pub = await h.client();
    await pub.publish('odd-rate');
    // The clip's video, and its audio frames under an AudioSpecificConfig at an explicit 50000 Hz (fMP4 carries it; ADTS has no index for it).
    const asc = buildAudioSpecificConfig({ objectType: 2, sampleRate: 50000, channelConfig: 1 });
    sendHeaders(pub, { ...ref, aseq: Buffer.concat([Buffer.from([0xaf, 0x00]), asc]) });
    const base = `http://127.0.0.1:${h.srv.httpPort}/live`;
    const frames = clipFrames(ref);
    await sendFrames(pub, frames.slice(0, frames.length >> 1));
    await waitFor(async () => (await fetch(`${base}/odd-rate.fmp4.m3u8`)).status === 200, 10_000, 'fMP4 HLS up');
    const ts = await fetch(`${base}/odd-rate.ts.m3u8`);
    assert.equal(ts.status, 415);
    assert.match(await ts.text(), /not available over MPEG-TS HLS: .*AAC/);
    await sendFrames(pub, frames.slice(frames.length >> 1));
    await waitFor(async () => /seg-2\.m4s/.test(await (await fetch(`${base}/odd-rate.fmp4.m3u8`)).text()), 10_000, 'fMP4 segments go on');
    assert.equal((await fetch(`${base}/odd-rate.ts.m3u8`)).status, 415, 'still refused');
  });
});

test('hls.mpegts off: the TS playlist is 404 and the fMP4 one still serves', { timeout: 30_000 }, async () => {
  await withServer({ hls: { ...HLS, mpegts: false } }, async (h) => {
    const res = await fetch(`http://127.0.0.1:${h.srv.httpPort}/live/any.ts.m3u8`);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /hls\.mpegts/);
  });
});

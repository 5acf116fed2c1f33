/**
 * HLS of an E-RTMP Opus stream (libopus packets published as FourCC
 * 'Opus'): the init declares an Opus sample entry whose dOps says what the
 * OpusHead said, ffprobe reads the served playlist as 48 kHz Opus, and the
 * packets ffmpeg gets from the served segments are the published ones,
 * byte for byte and in order, decodable without error. Its MPEG-TS
 * playlist is refused (415): Opus goes out in fMP4 only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { withServer, streamOf } from '../helpers/server-harness.js';
import { sleep, waitFor } from '../helpers/net.js';
import { opusClip } from '../helpers/opus-clip.js';
import { parseOpusHead } from '../../src/protocol/opus.js';
import { ffmpegMd5, ffprobe, track } from './ffmpeg-check.js';
import { copyWindow, getOk } from './local-window.js';

test('HLS of an E-RTMP Opus stream: Opus + dOps in the init, the published packets in the segments', { timeout: 90_000 }, async () => {
  const clip = await opusClip(5);
  await withServer({ hls: { segmentMs: 1000, partMs: 500 } }, async (h) => {
    const name = 'hls-opus';
    const pub = await h.client();
    await pub.publish(name);
    pub.sendMedia(8, 0, clip.sequenceStart);
    for (const [i, p] of clip.packets.entries()) {
      pub.sendMedia(8, p.ts, clip.frame(i));
      if (i % 10 === 9) await sleep(2);
    }
    await waitFor(() => (streamOf(h.srv, name)?.counters.tagsIn ?? 0) >= clip.packets.length + 1, 5000, 'the server to take every packet');

    const base = `http://127.0.0.1:${h.srv.httpPort}/live`;
    const playlist = (await getOk(`${base}/${name}.fmp4.m3u8`)).toString();
    const uris = [...playlist.matchAll(/^(hls-opus\/seg-\d+\.m4s)$/gm)].map((m) => m[1]!);
    const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)?.[1];
    assert.ok(init && uris.length >= 3, playlist);

    const ts = await fetch(`${base}/${name}.ts.m3u8`);
    assert.equal(ts.status, 415, 'no MPEG-TS form of Opus');
    assert.match(await ts.text(), /not carried in MPEG-TS/);

    const initBytes = await getOk(`${base}/${init}`);
    assert.ok(initBytes.includes(Buffer.from('Opus', 'latin1')), 'an Opus sample entry');
    const at = initBytes.indexOf(Buffer.from('dOps', 'latin1'));
    assert.ok(at > 0, 'a dOps box');
    // dOps: Version, OutputChannelCount, PreSkip, InputSampleRate (big-endian), OutputGain, ChannelMappingFamily.
    const head = parseOpusHead(clip.head);
    const d = initBytes.subarray(at + 4);
    assert.deepEqual([d[0], d[1], d.readUInt16BE(2), d.readUInt32BE(4), d.readInt16BE(8), d[10]],
      [0, head.channels, head.preSkip, head.inputSampleRate, head.outputGain, head.mappingFamily], 'dOps says what OpusHead said');

    const local = await copyWindow('hls-opus', base, name, playlist, init, uris);

    const streams = await ffprobe(local);
    assert.deepEqual(streams.map((s) => [s.codec_type, s.codec_name]), [['audio', 'opus']]);
    const copied = await ffmpegMd5(local, ['-map', '0:a', '-c', 'copy']);
    const got = track(copied.md5, 'audio');
    const want = clip.packets.map((p) => `${p.data.length} ${createHash('md5').update(p.data).digest('hex')}`);
    const from = want.indexOf(got.frames[0]!);
    assert.ok(from >= 0, 'the first served packet is a published one');
    assert.deepEqual(got.frames, want.slice(from, from + got.frames.length), `packets ${from}..${from + got.frames.length} as published`);
    assert.ok(got.frames.length >= 100, `${got.frames.length} packets (2 s or more)`);
    // 20 ms packets: the served times step by 20 ms.
    assert.ok(got.pts.every((t, i) => t === i * 20), `pts ${got.pts.slice(0, 8).join(',')}...`);
    const decoded = await ffmpegMd5(local, ['-map', '0:a']);
    assert.equal(decoded.errors, '', 'decodes without complaint');
    assert.ok(decoded.md5.packets.length >= got.frames.length, 'every packet decodes');
  });
});

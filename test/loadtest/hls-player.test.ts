// The load generator's LL-HLS player (loadtest/hls-player.ts) against a real
// sluice: three players in a run (markers, no gaps, plausible latency, the
// headers from the init segment), and one in this process whose byte count
// is checked against the bodies the server serves at the URLs it fetched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../../src/process/single.js';
import { runLoadtest } from '../../loadtest/run.js';
import { hlsPlaylistUrl, openHls, type HlsFetchKind } from '../../loadtest/hls-player.js';
import { parseLivePlaylist, variantUris } from '../../loadtest/hls-playlist.js';
import { findMarker, MarkerKind } from '../../loadtest/marker.js';
import { TagType } from '../../src/protocol/types.js';
import { request } from '../hls/hls-client.js';
import { sleep } from '../helpers/net.js';

test('the LL-HLS playlist reader: parts with their init, where the preload hint sits, ENDLIST, variants', () => {
  const head = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-MAP:URI="s/init-a.mp4"\n';
  const seg7 = '#EXT-X-PART:DURATION=0.480,URI="s/part-7.0.m4s",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.480,URI="s/part-7.1.m4s"\n#EXTINF:0.960,\ns/seg-7.m4s\n';
  const open = parseLivePlaylist(`${head}${seg7}#EXT-X-PART:DURATION=0.480,URI="s/part-8.0.m4s",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s/part-8.1.m4s"\n`);
  assert.equal(open.targetS, 2);
  assert.deepEqual(open.parts.map((p) => [p.msn, p.index, p.independent, p.map]), [[7, 0, true, 's/init-a.mp4'], [7, 1, false, 's/init-a.mp4'], [8, 0, true, 's/init-a.mp4']]);
  assert.deepEqual(open.segments, [{ msn: 7, parts: 2 }]);
  assert.deepEqual([open.hint?.msn, open.hint?.index, open.hint?.uri], [8, 1, 's/part-8.1.m4s']);
  // Right after a segment closed, the hint is the next segment's first part.
  const closed = parseLivePlaylist(`${head}${seg7}#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s/part-8.0.m4s"\n`);
  assert.deepEqual([closed.hint?.msn, closed.hint?.index], [8, 0]);
  const ended = parseLivePlaylist(`${head}${seg7}#EXT-X-ENDLIST\n`);
  assert.equal(ended.endList, true);
  assert.equal(ended.hint, undefined);
  assert.throws(() => parseLivePlaylist('#EXTM3U\n'), /TARGETDURATION/);
  assert.equal(hlsPlaylistUrl('http://127.0.0.1:8080/live/a.flv?t=1'), 'http://127.0.0.1:8080/live/a.m3u8?t=1');
  const multivariant = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2138336,CODECS="avc1.4d401f,mp4a.40.2"\na.fmp4.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2200000\na.ts.m3u8\n';
  assert.deepEqual(variantUris(multivariant), ['a.fmp4.m3u8', 'a.ts.m3u8']);
  assert.deepEqual(variantUris(`${head}${seg7}`), []);
});

test('loadtest hls players against sluice: markers, no gaps, plausible latency, bytes = the part bodies', { timeout: 30_000 }, async () => {
  const server = await startServer({
    rtmp: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    hls: { segmentMs: 1000, partMs: 250 },
    log: { level: 'silent' },
  });
  try {
    const prefix = 'hlslt';
    const run = runLoadtest({
      target: `rtmp://127.0.0.1:${server.rtmpPort}/live`,
      playProtocols: ['hls'],
      playUrlTemplate: `http://{host}:${server.httpPort}/{app}/{stream}.flv`,
      streamPrefix: prefix,
      publishers: 1,
      players: 3,
      bitrateKbps: 800,
      gop: 25,
      durationS: 6,
      rampS: 0.5,
      threads: 1,
    });

    // One more player in this process, watched request by request.
    await sleep(1000);
    const fetched: { url: string; kind: HlsFetchKind; status: number; bytes: number }[] = [];
    const videoSeqs: number[] = [];
    let audio = 0;
    let counted = 0;
    let closedWith: Error | undefined | 'open' = 'open';
    const conn = await openHls(
      { index: 0, stream: 0, name: `${prefix}-0`, protocol: 'hls', url: `http://127.0.0.1:${server.httpPort}/live/${prefix}-0.flv` },
      10_000,
      {
        onPlayRequested: () => undefined,
        onConnected: () => undefined,
        onTag: (type, payload) => {
          const m = findMarker(payload);
          if (type === TagType.Video && m?.kind === MarkerKind.Video) videoSeqs.push(m.seq);
          if (type === TagType.Audio && m?.kind === MarkerKind.Audio) audio++;
        },
        onBytes: (n) => (counted += n),
        onClose: (err) => (closedWith = err),
      },
      false,
      (f) => fetched.push(f),
    );
    await sleep(3000);
    await conn.close();
    assert.equal(closedWith, undefined, 'closed by us: no error');

    const media = fetched.filter((f) => f.kind !== 'playlist' && f.status === 200);
    const parts = media.filter((f) => f.kind === 'part');
    assert.ok(parts.length >= 6, `parts fetched: ${parts.length}`);
    assert.equal(new Set(parts.map((f) => f.url)).size, parts.length, 'no part fetched twice');
    assert.ok(fetched.some((f) => f.kind === 'playlist' && f.url.includes('_HLS_msn=')), 'blocking reloads');
    // What it counted is what the server serves at those URLs (still in the window).
    let served = 0;
    for (const f of media) {
      const again = await request(f.url);
      assert.equal(again.status, 200, f.url);
      served += again.body.length;
    }
    assert.equal(counted, served, 'bytes counted = init + part bodies');
    assert.ok(videoSeqs.length > 20 && audio > 20, `markers: video ${videoSeqs.length}, audio ${audio}`);
    videoSeqs.forEach((s, i) => i > 0 && assert.equal(s, videoSeqs[i - 1]! + 1, `video seq ${s} after ${videoSeqs[i - 1]}`));

    const r = await run;
    const t = r.totals;
    assert.deepEqual(r.errors, {}, 'no player errors (no retried request either)');
    assert.equal(t.playersConnected, 3);
    assert.equal(r.byProtocol.hls?.playersConnected, 3);
    assert.equal(t.playersWithFrames, 3);
    assert.equal(t.playersWithHeaders, 3, 'the init segment stands for the sequence headers');
    assert.equal(t.playersFailed + t.playersDropped, 0);
    assert.ok(t.framesIn > 100, `frames ${t.framesIn}`);
    assert.equal(t.gaps, 0, 'contiguous after the start');
    assert.equal(t.reorders + t.foreignFrames, 0);
    assert.ok(t.bytesIn > 0);
    const lat = r.protocolHistograms.hls!.latency;
    const alat = r.protocolHistograms.hls!['audio-latency'];
    assert.ok(lat.totalCount > 50 && alat.totalCount > 50, `latency samples: video ${lat.totalCount}, audio ${alat.totalCount}`);
    for (const h of [lat, alat]) {
      assert.ok(h.minNonZeroValue > 0 && h.maxValue < 10_000_000, `latency ${h.minNonZeroValue / 1000}..${h.maxValue / 1000} ms`);
    }
    // A frame waits at most for its part to fill (250 ms) and be built: far under a second unless something is wrong.
    assert.ok(lat.getValueAtPercentile(50) < 1_000_000, `p50 ${lat.getValueAtPercentile(50) / 1000} ms`);
    assert.equal(r.protocolHistograms.hls!.ttff.totalCount, 3);
  } finally {
    await server.close();
  }
});

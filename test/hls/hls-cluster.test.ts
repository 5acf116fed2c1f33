/**
 * HLS of one stream on a two-worker cluster: each worker that gets HLS
 * requests segments the shared ring itself, cutting where the publisher's
 * worker marked it (src/hls/cut-marks.ts). Requests on fresh connections
 * land on both workers (SO_REUSEPORT); every copy of a playlist entry,
 * segment and part must be the same, whichever worker answered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeCluster, startTestCluster } from '../helpers/servers.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { sleep, waitFor } from '../helpers/net.js';
import { parseExposition, value } from '../helpers/prometheus.js';
import { playlist, request, resolveUri } from './hls-client.js';
import type { MediaPlaylist } from './m3u8.js';

test('two workers serve one stream\'s HLS with the same segments, parts and bytes', { timeout: 60_000 }, async () => {
  const cluster = await startTestCluster({ cluster: { workers: 2 }, hls: { segmentMs: 1000, partMs: 250, remuxThreads: 1 } });
  const rtmp = new RtmpClientPool();
  try {
    const pub = await rtmp.publisher(rtmpUrl(cluster.rtmpPort), 'twice', { gop: 25, frameMs: 40, videoBytes: 1500 });
    pub.headers();
    pub.start();
    const url = `http://127.0.0.1:${cluster.httpPort}/live/twice.fmp4.m3u8`;
    const perWorker = async (): Promise<number[]> => {
      const m = parseExposition(await (await fetch(`http://127.0.0.1:${cluster.adminPort}/metrics`)).text());
      return cluster.supervisor.workerIds().map((w) => value(m, 'sluice_worker_hls_streams', { worker: String(w) }));
    };
    // Fresh connections until both workers segment the stream.
    await waitFor(async () => {
      await Promise.all(Array.from({ length: 4 }, () => request(url).catch(() => undefined)));
      return (await perWorker()).every((n) => n === 1);
    }, 15_000, 'both workers segmenting', 100);
    await sleep(1500);

    const lists: MediaPlaylist[] = (await Promise.all(Array.from({ length: 12 }, () => playlist(url)))).map((r) => r.pl);
    // The segment every copy lists (windows may differ by a reload's timing).
    const shared = lists.reduce((set, pl) => set.filter((msn) => pl.segments.some((s) => s.msn === msn)), lists[0]!.segments.map((s) => s.msn));
    assert.ok(shared.length >= 2, `segments in every copy: ${shared.join(',')}`);
    for (const msn of shared) {
      const entries = lists.map((pl) => pl.segments.find((s) => s.msn === msn)!);
      assert.equal(new Set(entries.map((e) => `${e.duration} ${e.uri} ${e.map} ${e.programDate}`)).size, 1, `segment ${msn} listed the same by every copy`);
      assert.equal(new Set(entries.map((e) => e.parts.map((p) => `${p.uri} ${p.duration}`).join('|'))).size, 1, `segment ${msn}'s parts the same`);
    }
    const seg = lists[0]!.segments.find((s) => s.msn === shared[0])!;
    for (const uri of [seg.uri, seg.parts[1]?.uri ?? seg.uri, seg.map!]) {
      const copies = await Promise.all(Array.from({ length: 10 }, () => request(resolveUri(url, uri))));
      for (const c of copies) assert.equal(c.status, 200, uri);
      assert.equal(new Set(copies.map((c) => c.body.toString('base64'))).size, 1, `${uri}: one set of bytes on every worker`);
    }
  } finally {
    rtmp.closeAll();
    await closeCluster(cluster);
  }
});

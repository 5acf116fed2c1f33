/**
 * HLS of one stream on a two-worker cluster: the first worker asked for it
 * segments it for the node (src/http/hls-share.ts), the other serves the
 * same bytes from that worker's shared memory. Keep-alive connections pin
 * requests to one worker each (SO_REUSEPORT spreads fresh connections), so
 * the tests know which worker answered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { closeCluster, startTestCluster } from '../helpers/servers.js';
import type { RunningCluster } from '../../src/process/primary.js';
import type { ConfigInput } from '../../src/app/config.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { workersOf } from '../helpers/cluster-placement.js';
import type { SyntheticPublisher } from '../helpers/synthetic-publisher.js';
import { sleep, waitFor } from '../helpers/net.js';
import { parseExposition, sum, value, type MetricFamily } from '../helpers/prometheus.js';
import { playlist, request, resolveUri } from './hls-client.js';
import type { MediaPlaylist } from './m3u8.js';

const metrics = async (c: RunningCluster): Promise<Map<string, MetricFamily>> =>
  parseExposition(await (await fetch(`http://127.0.0.1:${c.adminPort}/metrics`)).text());

/** One keep-alive connection on each worker, found by which worker's HLS request count a probe raised. */
async function agentPerWorker(c: RunningCluster): Promise<Map<number, http.Agent>> {
  const out = new Map<number, http.Agent>();
  const ids = c.supervisor.workerIds();
  const counts = async (): Promise<number[]> => {
    const m = await metrics(c);
    return ids.map((w) => sum(m, 'sluice_worker_hls_requests_total', { worker: String(w) }));
  };
  for (let i = 0; i < 40 && out.size < ids.length; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = await counts();
    await request(`http://127.0.0.1:${c.httpPort}/live/probe-nothing.fmp4.m3u8`, { agent });
    const after = await counts();
    const w = ids.find((_, j) => after[j]! > before[j]!);
    if (w === undefined || out.has(w)) agent.destroy();
    else out.set(w, agent);
  }
  assert.equal(out.size, ids.length, 'a connection on every worker');
  return out;
}

/** A synthetic publisher of `name` sending 25 fps in 1 s GOPs (the tests' 1 s segments). */
async function live(rtmp: RtmpClientPool, c: RunningCluster, name: string): Promise<SyntheticPublisher> {
  const pub = await rtmp.publisher(rtmpUrl(c.rtmpPort), name, { gop: 25, frameMs: 40, videoBytes: 1500 });
  pub.headers();
  pub.start();
  return pub;
}

/** A two-worker cluster (with `cfg`), an RTMP client pool and a keep-alive connection per worker for `run`; all closed after. */
async function onCluster(cfg: ConfigInput, run: (c: RunningCluster, rtmp: RtmpClientPool, agents: Map<number, http.Agent>) => Promise<void>): Promise<void> {
  const cluster = await startTestCluster(cfg);
  const rtmp = new RtmpClientPool();
  try {
    const agents = await agentPerWorker(cluster);
    try {
      await run(cluster, rtmp, agents);
    } finally {
      for (const a of agents.values()) a.destroy();
    }
  } finally {
    rtmp.closeAll();
    await closeCluster(cluster);
  }
}

const perWorker = (m: Map<string, MetricFamily>, name: string, w: number): number => value(m, name, { worker: String(w) });

test("one worker segments a stream's HLS for the node; the other serves the same playlists and bytes from its shared memory", { timeout: 60_000 }, async () => {
  await onCluster({ cluster: { workers: 2 }, media: { playWaitMs: 0 }, hls: { segmentMs: 1000, partMs: 250, remuxThreads: 1 } }, async (cluster, rtmp, agents) => {
    await live(rtmp, cluster, 'twice');
    const url = `http://127.0.0.1:${cluster.httpPort}/live/twice.fmp4.m3u8`;
    const [owner, mirror] = [...agents.keys()];
    const on = (w: number) => ({ agent: agents.get(w)! });
    // The first worker asked owns the stream's HLS.
    assert.equal((await playlist(url, on(owner!))).answer.status, 200);
    assert.equal((await playlist(url, on(mirror!))).answer.status, 200);
    let m = await metrics(cluster);
    assert.equal(perWorker(m, 'sluice_worker_hls_streams', owner!), 1, 'the owner segments');
    assert.equal(perWorker(m, 'sluice_worker_hls_streams', mirror!), 0, 'the other does not');
    assert.equal(perWorker(m, 'sluice_worker_hls_mirrored_streams', mirror!), 1, 'it mirrors the owner');
    await sleep(1500);

    const lists: { w: number; pl: MediaPlaylist }[] = [];
    for (let i = 0; i < 6; i++) for (const w of [owner!, mirror!]) lists.push({ w, pl: (await playlist(url, on(w))).pl });
    // The segments every copy lists (windows may differ by a reload's timing).
    const shared = lists.reduce((set, { pl }) => set.filter((msn) => pl.segments.some((s) => s.msn === msn)), lists[0]!.pl.segments.map((s) => s.msn));
    assert.ok(shared.length >= 2, `segments in every copy: ${shared.join(',')}`);
    for (const msn of shared) {
      const entries = lists.map(({ pl }) => pl.segments.find((s) => s.msn === msn)!);
      assert.equal(new Set(entries.map((e) => `${e.duration} ${e.uri} ${e.map} ${e.programDate}`)).size, 1, `segment ${msn} listed the same by both workers`);
      assert.equal(new Set(entries.map((e) => e.parts.map((p) => `${p.uri} ${p.duration}`).join('|'))).size, 1, `segment ${msn}'s parts the same`);
    }
    const seg = lists[0]!.pl.segments.find((s) => s.msn === shared[0])!;
    for (const uri of [seg.uri, seg.parts[1]?.uri ?? seg.uri, seg.map!]) {
      const [a, b] = [await request(resolveUri(url, uri), on(owner!)), await request(resolveUri(url, uri), on(mirror!))];
      assert.equal(a.status, 200, uri);
      assert.equal(b.status, 200, uri);
      assert.ok(a.body.length > 0 && a.body.equals(b.body), `${uri}: the same bytes from both workers`);
    }

    // A blocking reload on the mirror: answered when the owner's next part reaches it.
    const last = (await playlist(url, on(mirror!))).pl;
    assert.ok(last.preloadHint?.URI, 'a preload hint');
    const [msn, part] = hintOf(last.preloadHint.URI);
    const held = await playlist(`${url}?_HLS_msn=${msn}&_HLS_part=${part}`, { ...on(mirror!), timeoutMs: 8000 });
    const listed = [...held.pl.segments.flatMap((s) => s.parts), ...held.pl.openParts].some((p) => p.msn === msn && p.index === part);
    assert.ok(listed || held.pl.segments.some((s) => s.msn > msn), `the mirror's held reload lists ${msn}.${part}:\n${held.text}`);

    m = await metrics(cluster);
    assert.ok(perWorker(m, 'sluice_worker_hls_parts_built_total', owner!) > 0, 'the owner built parts');
    assert.equal(perWorker(m, 'sluice_worker_hls_parts_built_total', mirror!), 0, 'the mirror built none');
    assert.equal(perWorker(m, 'sluice_worker_hls_held_bytes', mirror!), 0, "the mirror holds nothing of its own: its bytes are the owner's");
    assert.ok(perWorker(m, 'sluice_worker_hls_held_bytes', owner!) > 0);
    assert.ok(perWorker(m, 'sluice_worker_hls_bytes_out_total', mirror!) > 0, 'the mirror served bytes');
    assert.equal(sum(m, 'sluice_worker_hls_memory_bound_bytes'), 256 * 1024 * 1024, "the workers' shares add up to the node's bound");

    // The publisher leaves: the mirror's viewers read the ended playlist too.
    rtmp.closeAll();
    let end: MediaPlaylist | undefined;
    await waitFor(async () => (end = (await playlist(url, on(mirror!))).pl).endList, 10_000, 'EXT-X-ENDLIST on the mirror', 200);
    // It ends where the owner's does: the last parts the owner flushed at the end are listed on the mirror too.
    const ownerEnd = (await playlist(url, on(owner!))).pl;
    assert.ok(ownerEnd.endList);
    assert.deepEqual(end!.segments.map((s) => `${s.msn} ${s.duration}`), ownerEnd.segments.map((s) => `${s.msn} ${s.duration}`));
  });
});

/** "part-12.3.m4s?..." -> [12, 3]. */
function hintOf(uri: string): [number, number] {
  const m = /part-(\d+)\.(\d+)\.m4s/.exec(uri);
  assert.ok(m, uri);
  return [Number(m[1]), Number(m[2])];
}

test('the owner of a stream\'s HLS crashes: the mirror takes the stream over and its viewers go on', { timeout: 60_000 }, async () => {
  await onCluster({
    cluster: { workers: 2, crashHook: true, heartbeatTimeoutMs: 2000 }, media: { playWaitMs: 0 }, hls: { segmentMs: 1000, partMs: 250, remuxThreads: 0 },
  }, async (cluster, rtmp, agents) => {
    const pub = await live(rtmp, cluster, 'handover');
    // The owner must not be the publisher's worker: that crash would end the stream.
    const [home] = await workersOf(cluster, [pub.c]);
    const owner = [...agents.keys()].find((w) => w !== home)!;
    const url = `http://127.0.0.1:${cluster.httpPort}/live/handover.fmp4.m3u8`;
    assert.equal((await playlist(url, { agent: agents.get(owner)! })).answer.status, 200);
    const before = (await playlist(url, { agent: agents.get(home!)! })).pl;
    let m = await metrics(cluster);
    assert.equal(perWorker(m, 'sluice_worker_hls_mirrored_streams', home!), 1, "the publisher's worker mirrors");

    cluster.supervisor.crash(owner, 'hls owner crash drill');
    // Viewers on the surviving worker keep asking; within the stale bound it segments the stream itself.
    let after: MediaPlaylist | undefined;
    await waitFor(async () => {
      const r = await request(url, { agent: agents.get(home!)!, timeoutMs: 15_000 });
      if (r.status !== 200) return false;
      m = await metrics(cluster);
      if (perWorker(m, 'sluice_worker_hls_streams', home!) !== 1) return false;
      after = (await playlist(url, { agent: agents.get(home!)! })).pl;
      return true;
    }, 30_000, 'the mirror took over', 250);
    // The new owner segments the ring's backlog again from the same cut marks: what both list is listed the same.
    const lastBefore = before.segments.at(-1)!.msn;
    await waitFor(async () => {
      after = (await playlist(url, { agent: agents.get(home!)! })).pl;
      return after.segments.at(-1)!.msn > lastBefore;
    }, 10_000, 'segments after the handover', 200);
    for (const s of before.segments) {
      const again = after!.segments.find((x) => x.msn === s.msn);
      if (again) assert.equal(`${again.duration} ${again.uri} ${again.programDate}`, `${s.duration} ${s.uri} ${s.programDate}`, `segment ${s.msn} the same after the handover`);
    }
    const newest = after!.segments.at(-1)!;
    const bytes = await request(resolveUri(url, newest.uri), { agent: agents.get(home!)! });
    assert.equal(bytes.status, 200);
    assert.ok(bytes.body.length > 0);
  });
});

test('HLS asked for before the stream is published (an awaited name): every request is answered once it goes live, on both workers', { timeout: 60_000 }, async () => {
  const cluster = await startTestCluster({ cluster: { workers: 2 }, media: { playWaitMs: 8000 }, hls: { segmentMs: 1000, partMs: 250, remuxThreads: 0 } });
  const rtmp = new RtmpClientPool();
  try {
    const url = `http://127.0.0.1:${cluster.httpPort}/live/awaited.fmp4.m3u8`;
    // Fresh connections: SO_REUSEPORT spreads them over both workers, each then waiting for the publisher.
    const early = Array.from({ length: 6 }, () => request(url, { timeoutMs: 20_000 }));
    await sleep(500);
    await live(rtmp, cluster, 'awaited');
    const answers = await Promise.all(early);
    assert.deepEqual(answers.map((a) => a.status), answers.map(() => 200), answers.map((a) => a.body.toString()).join('\n'));
    const m = await metrics(cluster);
    const ids = cluster.supervisor.workerIds();
    const serving = ids.map((w) => perWorker(m, 'sluice_worker_hls_streams', w) + perWorker(m, 'sluice_worker_hls_mirrored_streams', w));
    assert.ok(serving.every((n) => n <= 1) && serving.some((n) => n === 1), `streams per worker: ${serving.join(',')}`);
  } finally {
    rtmp.closeAll();
    await closeCluster(cluster);
  }
});

test('hls.shareAcrossWorkers=false: each worker asked segments the stream itself (the old way), with the same segments', { timeout: 60_000 }, async () => {
  await onCluster({ cluster: { workers: 2 }, media: { playWaitMs: 0 }, hls: { segmentMs: 1000, partMs: 250, remuxThreads: 0, shareAcrossWorkers: false } }, async (cluster, rtmp, agents) => {
    await live(rtmp, cluster, 'apart');
    const url = `http://127.0.0.1:${cluster.httpPort}/live/apart.fmp4.m3u8`;
    const [a, b] = [...agents.keys()];
    const la = (await playlist(url, { agent: agents.get(a!)! })).pl;
    const lb = (await playlist(url, { agent: agents.get(b!)! })).pl;
    const m = await metrics(cluster);
    for (const w of [a!, b!]) {
      assert.equal(perWorker(m, 'sluice_worker_hls_streams', w), 1, `worker ${w} segments`);
      assert.equal(perWorker(m, 'sluice_worker_hls_mirrored_streams', w), 0);
    }
    const common = la.segments.filter((s) => lb.segments.some((x) => x.msn === s.msn));
    assert.ok(common.length > 0, 'a segment both list');
    for (const s of common) assert.equal(lb.segments.find((x) => x.msn === s.msn)!.uri, s.uri);
  });
});

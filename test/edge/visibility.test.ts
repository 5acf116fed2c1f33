// What an operator sees of an edge: /api/v1/upstreams, each stream's
// source, and the upstream metrics, on a 2-worker edge cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeCluster, closeServer, startTestCluster, startTestServer } from '../helpers/servers.js';
import { waitFor } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import { parseExposition, sum, value } from '../helpers/prometheus.js';

test('an edge shows its upstreams in the API and in /metrics', { timeout: 20000 }, async () => {
  const origin = await startTestServer();
  const originUrl = `rtmp://127.0.0.1:${origin.rtmpPort}`;
  const edge = await startTestCluster({ mode: 'edge', edge: { origins: [originUrl], idleStopMs: 200 } });
  const pool = new RtmpClientPool();
  const admin = `http://127.0.0.1:${edge.adminPort}`;
  try {
    const pub = await pool.publisher(rtmpUrl(origin.rtmpPort), 'cam');
    pub.headers();
    pub.start();
    const player = await pool.connect(rtmpUrl(edge.rtmpPort));
    const rec = new Recorder(player);
    await player.play('cam');
    await rec.frame(pub.nextN + 3, 5000);

    const { upstreams } = (await (await fetch(`${admin}/api/v1/upstreams`)).json()) as { upstreams: Record<string, unknown>[] };
    assert.equal(upstreams.length, 1);
    assert.equal(upstreams[0]!.stream, 'live/cam');
    assert.equal(upstreams[0]!.kind, 'pull');
    assert.equal(upstreams[0]!.origin, originUrl);
    assert.equal(upstreams[0]!.state, 'playing');
    assert.ok((upstreams[0]!.bytesIn as number) > 0);

    const stream = (await (await fetch(`${admin}/api/v1/streams/live/cam`)).json()) as { state: string; source: unknown };
    assert.equal(stream.state, 'live');
    assert.deepEqual(stream.source, { type: 'pull', origin: originUrl });

    const fams = parseExposition(await (await fetch(`${admin}/metrics`)).text());
    assert.equal(value(fams, 'sluice_upstream_connections', { kind: 'pull', state: 'playing' }), 1);
    assert.equal(value(fams, 'sluice_upstream_connections', { kind: 'pull', state: 'retrying' }), 0);
    assert.ok(sum(fams, 'sluice_upstream_bytes_total', { direction: 'in' }) > 0);
    // One pull started: its start latency is one sample.
    assert.equal(sum(fams, 'sluice_pull_start_seconds_count'), 1);

    // The upstream's end keeps its bytes in the counter.
    const before = sum(fams, 'sluice_upstream_bytes_total', { direction: 'in' });
    player.destroy();
    await waitFor(async () => ((await (await fetch(`${admin}/api/v1/upstreams`)).json()) as { upstreams: unknown[] }).upstreams.length === 0, 10000, 'idle upstream closed');
    const after = parseExposition(await (await fetch(`${admin}/metrics`)).text());
    assert.ok(sum(after, 'sluice_upstream_bytes_total', { direction: 'in' }) >= before, 'a counter never goes back');
    assert.equal(value(after, 'sluice_upstream_connections', { kind: 'pull', state: 'playing' }), 0);
  } finally {
    pool.closeAll();
    await closeCluster(edge);
    await closeServer(origin);
  }
});

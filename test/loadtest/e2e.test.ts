// A short load test against sluice in this process: 1 publisher, RTMP and
// HTTP-FLV players, ~3 s. Checks correctness (counts, no gaps, every player
// got frames, histograms filled, sockets closed), not speed.
import { runCompare } from '../../loadtest/compare.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/process/single.js';
import { runLoadtest } from '../../loadtest/run.js';
import { buildSummary, formatSummary } from '../../loadtest/summary.js';
import { writeOutputs } from '../../loadtest/outputs.js';
import type { ProgressSnapshot } from '../../loadtest/timeline.js';
import { waitFor } from '../helpers/net.js';
import { selfSignedCert } from '../helpers/tls-cert.js';

test('loadtest against sluice: RTMP, HTTP-FLV and WS-FLV players, no gaps, every player served', { timeout: 20_000 }, async () => {
  const server = await startServer({ rtmp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, log: { level: 'silent' } });
  const out = mkdtempSync(join(tmpdir(), 'sluice-lt-'));
  try {
    const progress: ProgressSnapshot[] = [];
    const r = await runLoadtest(
      {
        target: `rtmp://127.0.0.1:${server.rtmpPort}/live`,
        playProtocols: ['rtmp', 'http-flv', 'ws-flv'],
        playUrlTemplate: `http://{host}:${server.httpPort}/{app}/{stream}.flv`,
        publishers: 1,
        players: 9,
        bitrateKbps: 1000,
        durationS: 3,
        rampS: 0.5,
        threads: 2,
        maxGapRate: 0,
      },
      { onProgress: (p) => progress.push(p) },
    );
    const t = r.totals;
    assert.equal(r.playersTarget, 9);
    assert.equal(t.publishersLive, 1);
    assert.equal(t.playersConnected, 9, 'every player connected');
    assert.equal(r.byProtocol.rtmp?.playersConnected, 3);
    assert.equal(r.byProtocol['http-flv']?.playersConnected, 3);
    assert.equal(r.byProtocol['ws-flv']?.playersConnected, 3);
    assert.equal(t.playersWithFrames, 9, 'every player got frames');
    assert.equal(t.playersWithHeaders, 9, 'every player got metadata and sequence headers');
    assert.equal(t.playersFailed + t.playersDropped, 0, JSON.stringify(r.errors));
    assert.equal(t.gaps, 0, 'no frame missing');
    assert.equal(t.reorders, 0);
    assert.equal(t.foreignFrames, 0);
    assert.ok(t.framesSent > 0 && t.bytesIn > 0);
    assert.ok(r.histograms.latency.totalCount > 0, 'video latency recorded');
    assert.ok(r.histograms['audio-latency'].totalCount > 0, 'audio latency recorded');
    assert.equal(r.histograms.ttff.totalCount, 9);
    assert.equal(r.histograms.connect.totalCount, 9);
    assert.ok(r.histograms['send-lag'].totalCount > 0);
    // The player histograms per protocol too, adding up to the run's.
    for (const name of ['latency', 'audio-latency', 'ttff', 'connect'] as const) {
      const rtmp = r.protocolHistograms.rtmp?.[name].totalCount ?? 0;
      const flv = r.protocolHistograms['http-flv']?.[name].totalCount ?? 0;
      const ws = r.protocolHistograms['ws-flv']?.[name].totalCount ?? 0;
      assert.ok(rtmp > 0 && flv > 0 && ws > 0, `${name} recorded for rtmp (${rtmp}), http-flv (${flv}) and ws-flv (${ws})`);
      assert.equal(rtmp + flv + ws, r.histograms[name].totalCount, `${name}: the protocols add up to the run`);
    }
    assert.equal(r.protocolHistograms.rtmp?.ttff.totalCount, 3);
    assert.ok(progress.length >= 2, 'progress once a second');
    assert.ok(r.timeline.some((p) => p.playing === 9 && p.mbpsIn > 0));
    assert.ok(r.steadyLatency.totalCount > 0 && r.steadyLatency.totalCount < r.histograms.latency.totalCount, 'latency after the ramp: some frames, not the ramp\'s');

    const s = buildSummary(r);
    assert.deepEqual(s.thresholds.map((x) => [x.name, x.ok]), [['max-gap-rate', true]]);
    assert.match(formatSummary(s), /latency\s+\d+/);
    writeOutputs(out, r, s);
    for (const f of ['summary.json', 'report.html', 'latency.hgrm', 'ttff.hgrm', 'connect.hgrm', 'audio-latency.hgrm', 'send-lag.hgrm', 'latency.rtmp.hgrm', 'ttff.http-flv.hgrm']) {
      assert.ok(existsSync(join(out, f)), f);
    }
    const json = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(json.players.withFrames, 9);
    assert.ok(json.steadyLatencyMs.count > 0, 'summary.json: latency after the ramp');
    assert.equal(json.latencyByProtocol['http-flv'].ttff.count, 3, 'summary.json: TTFF per protocol');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.match(html, /<svg/);
    assert.match(html, /Latency per play protocol[\s\S]*http-flv latency/);

    // Comparison mode: the same run twice, side by side, B/A of 1.
    let text = '';
    const cmp = join(out, 'cmp');
    assert.equal(runCompare([join(out, 'summary.json'), join(out, 'summary.json'), '--label', 'before', '--label', 'after', '--out', cmp], (x) => (text += x)), 0);
    assert.match(text, /before\s+after\s+B\/A/);
    assert.match(text, /latency p99 ms\s+[\d.]+\s+[\d.]+\s+1\.00×/);
    assert.match(text, /http-flv ttff p50 ms/);
    assert.match(readFileSync(join(cmp, 'compare.html'), 'utf8'), /<table>[\s\S]*after/);
    assert.throws(() => runCompare([join(out, 'summary.json')]), /two or more/);
    assert.doesNotMatch(html, /<script|src="http/);

    // Every client closed its socket: the server is left with no session.
    await waitFor(() => server.ctx.sessions.size === 0 && server.ctx.flvPlayers.size === 0, 3000, 'server sessions closed');
  } finally {
    rmSync(out, { recursive: true, force: true });
    await server.close();
  }
});

test('--insecure: a loadtest over rtmps:// and https:// against a self-signed server; without it the run fails on the certificate', { timeout: 30_000 }, async () => {
  const local = { host: '127.0.0.1', port: 0 };
  const cert = selfSignedCert();
  const server = await startServer({ rtmp: local, http: local, rtmps: { ...local, ...cert }, https: { ...local, ...cert }, log: { level: 'silent' } });
  try {
    const run = (insecure: boolean) =>
      runLoadtest({
        target: `rtmps://127.0.0.1:${server.rtmpsPort}/live`,
        playProtocols: ['rtmp', 'http-flv', 'ws-flv'],
        playUrlTemplate: `https://{host}:${server.httpsPort}/{app}/{stream}.flv`,
        publishers: 1,
        players: 3,
        bitrateKbps: 500,
        durationS: 2,
        rampS: 0.3,
        threads: 1,
        timeoutMs: 3000,
        insecure,
      });
    const ok = await run(true);
    assert.equal(ok.totals.publishersLive, 1);
    assert.equal(ok.totals.playersWithFrames, 3, JSON.stringify(ok.errors));
    assert.equal(ok.totals.gaps, 0);
    await assert.rejects(run(false), /no publisher is live: .*self-signed certificate/);
  } finally {
    await server.close();
  }
});

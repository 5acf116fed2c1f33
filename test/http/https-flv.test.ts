/**
 * HTTPS-FLV and WSS-FLV through uWS's SSLApp: a publish over plain RTMP
 * plays over TLS with the same bytes as over plain HTTP-FLV, on one server
 * and on a two-worker cluster; plain HTTP on the TLS port gets no answer
 * and that connection alone ends.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import WebSocket from 'ws';
import { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import { startServer, type RunningServer } from '../../src/process/single.js';
import type { RunningCluster } from '../../src/process/primary.js';
import { SyntheticPublisher } from '../helpers/synthetic-publisher.js';
import { FlvCollector } from '../helpers/flv-collector.js';
import { getFlv } from '../helpers/flv-players.js';
import { waitFor, withTimeout } from '../helpers/net.js';
import { closeCluster, closeServer, startTestCluster } from '../helpers/servers.js';
import { selfSignedCert } from '../helpers/tls-cert.js';

const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

function httpsFlv(url: string): FlvCollector {
  const flv = new FlvCollector();
  const req = https.get(url, { rejectUnauthorized: false, agent: false }, (res) => {
    assert.equal(res.statusCode, 200);
    res.on('data', (b: Buffer) => flv.push(b));
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  cleanup.push(() => void req.destroy());
  return flv;
}

function wssFlv(url: string): FlvCollector {
  const flv = new FlvCollector();
  const ws = new WebSocket(url, { rejectUnauthorized: false });
  ws.on('message', (d: Buffer, binary: boolean) => binary && flv.push(d));
  ws.on('error', () => undefined);
  cleanup.push(() => ws.terminate());
  return flv;
}

async function publishSynthetic(rtmpPort: number, name: string): Promise<void> {
  const client = await RtmpClient.connect(`rtmp://127.0.0.1:${rtmpPort}/live`);
  await client.publish(name);
  const pub = new SyntheticPublisher(client, { gop: 10, frameMs: 20 });
  pub.headers();
  pub.start();
  cleanup.push(() => (pub.stop(), client.destroy()));
}

/** The tags all three players share, compared as bytes (each starts at its own join point). */
function assertSameTags(a: FlvCollector, b: FlvCollector): void {
  const key = (t: { type: number; data: Buffer }) => `${t.type}:${t.data.toString('base64')}`;
  const seen = new Set(b.tags.map(key));
  const shared = a.tags.filter((t) => seen.has(key(t))).length;
  assert.ok(shared > 20, `${shared} tags in common`);
}

test('one server: HTTPS-FLV and WSS-FLV get the stream HTTP-FLV gets; plain HTTP on the TLS port is cut off', { timeout: 30000 }, async () => {
  const local = { host: '127.0.0.1', port: 0 };
  const srv: RunningServer = await withTimeout(
    startServer({ rtmp: local, http: local, https: { ...local, ...selfSignedCert() }, log: { level: 'silent' } }),
    5000,
    'start',
  );
  cleanup.push(() => closeServer(srv));
  assert.ok(srv.httpsPort);
  await publishSynthetic(srv.rtmpPort, 'tls');
  const plain = getFlv(`http://127.0.0.1:${srv.httpPort}/live/tls.flv`);
  cleanup.push(() => plain.close());
  const secure = httpsFlv(`https://127.0.0.1:${srv.httpsPort}/live/tls.flv`);
  const wss = wssFlv(`wss://127.0.0.1:${srv.httpsPort}/live/tls.flv`);
  await waitFor(() => plain.flv.tags.length > 40 && secure.tags.length > 40 && wss.tags.length > 40, 10000, 'all three receiving');
  assertSameTags(secure, plain.flv);
  assertSameTags(wss, plain.flv);
  assert.equal(secure.chunks[0]!.subarray(0, 3).toString(), 'FLV');

  const raw = net.connect(srv.httpsPort!, '127.0.0.1');
  let got = '';
  raw.on('data', (b) => (got += b.toString('latin1')));
  raw.on('error', () => undefined);
  raw.write('GET /live/tls.flv HTTP/1.1\r\nHost: x\r\n\r\n');
  await withTimeout(new Promise((r) => raw.once('close', r)), 5000, 'plain HTTP on TLS closed');
  assert.doesNotMatch(got, /HTTP\/1\.1 200/);
  const before = secure.tags.length;
  await waitFor(() => secure.tags.length > before + 5, 5000, 'the TLS player goes on');
});

test('a two-worker cluster serves HTTPS-FLV on every worker', { timeout: 30000 }, async () => {
  const cluster: RunningCluster = await startTestCluster({ https: { host: '127.0.0.1', port: 0, ...selfSignedCert() } });
  cleanup.push(() => closeCluster(cluster));
  assert.ok(cluster.httpsPort);
  await publishSynthetic(cluster.rtmpPort, 'ctls');
  const players = [0, 1, 2, 3].map(() => httpsFlv(`https://127.0.0.1:${cluster.httpsPort}/live/ctls.flv`));
  await waitFor(() => players.every((p) => p.tags.length > 20), 10000, 'every HTTPS player receiving');
});

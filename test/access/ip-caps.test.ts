/**
 * access.maxConnectionsPerIp: RTMP sessions and HTTP-FLV/WS-FLV players of
 * one address share the cap; the next one is refused (RTMP: the socket is
 * closed at once; HTTP: 429) while another address (::1) is unaffected; a
 * slot comes back when its connection ends, whatever ended it (a player
 * that leaves, a 404, a HEAD). The node-wide publish cap per address, and
 * the per-worker totals (rtmp.maxConnections, http.maxPlayers), likewise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startServer, type RunningServer } from '../../src/process/single.js';
import { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import { SyntheticPublisher } from '../helpers/synthetic-publisher.js';
import { getFlv, wsStatus } from '../helpers/flv-players.js';
import { waitFor, withTimeout } from '../helpers/net.js';
import { closeCluster, closeServer, startTestCluster } from '../helpers/servers.js';
import { parseExposition, value } from '../helpers/prometheus.js';

let srv: RunningServer;
let pub: SyntheticPublisher;
let publisher: RtmpClient;

before(async () => {
  srv = await withTimeout(
    startServer({ rtmp: { host: '::', port: 0 }, http: { host: '::', port: 0 }, log: { level: 'silent' }, media: { playWaitMs: 0 }, access: { maxConnectionsPerIp: 3 } }),
    5000,
    'start',
  );
  // The publisher takes one of 127.0.0.1's three slots.
  publisher = await RtmpClient.connect(`rtmp://127.0.0.1:${srv.rtmpPort}/live`);
  await publisher.publish('cap');
  pub = new SyntheticPublisher(publisher, { gop: 10, frameMs: 20 });
  pub.headers();
  pub.start();
});

after(async () => {
  pub?.stop();
  publisher?.destroy();
  await closeServer(srv);
});

function status(url: string, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    http.request(url, { method, agent: false }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject).end();
  });
}

/** Resolves true when the server closes a raw connection within 2 s without a byte (refused at accept). */
function closedAtOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.once('data', () => (s.destroy(), resolve(false)));
    s.once('close', () => resolve(true));
    s.once('connect', () => s.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)])));
    setTimeout(() => (s.destroy(), resolve(false)), 2000);
  });
}

test('RTMP and FLV share one address\'s cap; refusals are RTMP close / HTTP 429; ::1 is unaffected; slots come back', { timeout: 30000 }, async () => {
  const flvUrl = (host: string) => `http://${host}:${srv.httpPort}/live/cap.flv`;
  // Slot 2: an HTTP-FLV player. A 404 and a HEAD in between give their slots back.
  assert.equal(await status(`http://127.0.0.1:${srv.httpPort}/live/none.flv`), 404);
  assert.equal(await status(flvUrl('127.0.0.1'), 'HEAD'), 200);
  const p1 = getFlv(flvUrl('127.0.0.1'));
  await waitFor(() => p1.flv.tags.length > 3, 5000, 'player 1');
  // Slot 3: an RTMP player.
  const c = await RtmpClient.connect(`rtmp://127.0.0.1:${srv.rtmpPort}/live`);
  await c.play('cap');
  // Full: RTMP refused at accept, HTTP-FLV and WS-FLV 429.
  assert.equal(await closedAtOnce(srv.rtmpPort), true, 'a 4th RTMP connection is closed at once');
  assert.equal(await status(flvUrl('127.0.0.1')), 429);
  assert.equal(await wsStatus(`ws://127.0.0.1:${srv.httpPort}/live/cap.flv`), 429);
  // Another address is not affected.
  const v6 = getFlv(flvUrl('[::1]'));
  await waitFor(() => v6.flv.tags.length > 3, 5000, '::1 player');
  v6.close();
  assert.deepEqual(srv.ctx.counters.refused, { 'connect ip-connections': 1, 'play ip-connections': 2 });
  // Players leave: their slots come back, and new connections get in.
  p1.close();
  c.destroy();
  await waitFor(async () => (await status(flvUrl('127.0.0.1'), 'HEAD')) === 200, 5000, 'a slot back');
  const c2 = await RtmpClient.connect(`rtmp://127.0.0.1:${srv.rtmpPort}/live`);
  await c2.play('cap');
  c2.destroy();
  assert.ok(publisher.socket.writable, 'the publisher was never touched');
});

test('access.maxPublishesPerIp counts live publishes per address across workers; an ended publish gives its slot back', { timeout: 30000 }, async () => {
  const cluster = await startTestCluster({ access: { maxPublishesPerIp: 2 }, media: { republishGraceMs: 0 } });
  const clients: RtmpClient[] = [];
  try {
    const base = `rtmp://127.0.0.1:${cluster.rtmpPort}/live`;
    // Connections land on either worker (SO_REUSEPORT); the directory counts them all.
    for (const name of ['a', 'b']) {
      const c = await RtmpClient.connect(base);
      clients.push(c);
      await c.publish(name);
    }
    const third = await RtmpClient.connect(base);
    clients.push(third);
    await assert.rejects(third.publish('c'), /NetStream\.Publish\.BadName/);
    clients[0]!.destroy();
    // The slot comes back once the directory has seen 'a' end (republishGraceMs 0): a fresh publisher of 'c' then gets in.
    let published = false;
    for (const until = Date.now() + 5000; !published && Date.now() < until; ) {
      const c = await RtmpClient.connect(base);
      clients.push(c);
      published = await c.publish('c').then(
        () => true,
        () => false,
      );
      if (!published) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(published, 'a slot back after a publisher left');
    const metrics = await (await fetch(`http://127.0.0.1:${cluster.adminPort}/metrics`)).text();
    assert.ok(value(parseExposition(metrics), 'sluice_refused_total', { action: 'publish', reason: 'ip-publishes' }) >= 1);
  } finally {
    for (const c of clients) c.destroy();
    await closeCluster(cluster);
  }
});

test('http.maxPlayers and rtmp.maxConnections refuse with 503 / a closed socket, counted as refusals', { timeout: 20000 }, async () => {
  const local = { host: '127.0.0.1', port: 0 };
  const s = await withTimeout(startServer({ rtmp: { ...local, maxConnections: 2 }, http: { ...local, maxPlayers: 1 }, log: { level: 'silent' }, media: { playWaitMs: 0 } }), 5000, 'start');
  const clients: RtmpClient[] = [];
  try {
    for (let i = 0; i < 2; i++) clients.push(await RtmpClient.connect(`rtmp://127.0.0.1:${s.rtmpPort}/live`));
    await clients[0]!.publish('m');
    const p = new SyntheticPublisher(clients[0]!, { gop: 10, frameMs: 20 });
    p.headers();
    p.start();
    assert.equal(await closedAtOnce(s.rtmpPort), true, 'a 3rd RTMP connection is closed at accept');
    const one = getFlv(`http://127.0.0.1:${s.httpPort}/live/m.flv`);
    await waitFor(() => one.flv.tags.length > 3, 5000, 'the one player');
    assert.equal(await status(`http://127.0.0.1:${s.httpPort}/live/m.flv`), 503);
    assert.deepEqual(s.ctx.counters.refused, { 'connect max-connections': 1, 'play max-players': 1 });
    one.close();
    p.stop();
  } finally {
    for (const c of clients) c.destroy();
    await closeServer(s);
  }
});

/**
 * E-RTMP v2 Reconnect Request on drain: the onStatus sluice builds, the
 * capsEx it reads and states, the tcUrl it names, and which sessions a
 * server's close asks (only clients that announced CapsEx.Reconnect, only
 * with cluster.reconnectRequest on), with how long the close then waits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CapsEx, capsExOf, decodeCommand, readReconnectRequest, reconnectRequest, RECONNECT_REQUEST, COMMAND_CSID } from '../../src/protocol/commands.js';
import { amfObject } from '../../src/protocol/amf-types.js';
import { reconnectTcUrl, resolveTcUrl } from '../../src/rtmp/url.js';
import type { ConfigInput } from '../../src/app/config.js';
import type { RtmpClient, ReconnectRequest, RtmpClientOptions } from '../../src/rtmp/client/rtmp-client.js';
import { FAMILIES } from '../../src/control/metrics.js';
import { workerSnapshot } from '../../src/control/snapshot.js';
import type { RunningServer } from '../../src/process/single.js';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import { waitFor } from '../helpers/net.js';

// ---- protocol ---------------------------------------------------------------------

test('ReconnectRequest is an onStatus on the NetConnection: stream 0, transaction 0, null command object, status info', () => {
  const m = reconnectRequest('Server going away.', 'rtmp://edge.example/live');
  assert.deepEqual([m.header.streamId, m.header.csid, m.header.type], [0, COMMAND_CSID, 20]);
  const cmd = decodeCommand(m.header.type, m.payload);
  assert.deepEqual([cmd.name, cmd.transactionId, cmd.object], ['onStatus', 0, null]);
  assert.deepEqual({ ...(cmd.args[0] as object) }, {
    level: 'status',
    code: 'NetConnection.Connect.ReconnectRequest',
    description: 'Server going away.',
    tcUrl: 'rtmp://edge.example/live',
  });
  const bare = decodeCommand(20, reconnectRequest('x').payload).args[0] as Record<string, unknown>;
  assert.equal('tcUrl' in bare, false, 'no tcUrl: the client reconnects to its own');
});

test('readReconnectRequest reads the request and nothing else', () => {
  assert.deepEqual(readReconnectRequest(amfObject({ level: 'status', code: RECONNECT_REQUEST, tcUrl: '/other' })), { tcUrl: '/other', description: '' });
  assert.deepEqual(readReconnectRequest(amfObject({ code: RECONNECT_REQUEST, tcUrl: '', description: 'd' })), { tcUrl: undefined, description: 'd' });
  assert.equal(readReconnectRequest(amfObject({ level: 'status', code: 'NetConnection.Connect.Closed' })), undefined);
});

test('capsExOf takes a UI32 flag number and treats anything else as none', () => {
  assert.equal(capsExOf(amfObject({ capsEx: 1 })), CapsEx.Reconnect);
  assert.equal(capsExOf(amfObject({ capsEx: 0x0f })), 0x0f);
  for (const bad of ['1', -1, 1.5, Number.NaN, 2 ** 32, true, null]) assert.equal(capsExOf(amfObject({ capsEx: bad })), 0, String(bad));
  assert.equal(capsExOf(amfObject({})), 0);
  assert.equal(capsExOf(null), 0);
});

test('a ReconnectRequest tcUrl: absolute as is, relative resolved against the current one, none means the current one', () => {
  const cur = 'rtmp://a.example:1935/live';
  assert.equal(resolveTcUrl('rtmp://b.example/live', cur), 'rtmp://b.example/live');
  assert.equal(resolveTcUrl('//192.0.2.7/live', cur), 'rtmp://192.0.2.7/live');
  assert.equal(resolveTcUrl('/tv', cur), 'rtmp://a.example:1935/tv');
  assert.equal(resolveTcUrl(undefined, cur), cur);
});

test('the tcUrl a draining server names: the template with {app}, else the client own; the connect query goes along', () => {
  assert.equal(reconnectTcUrl('rtmp://sluice.svc:1935/{app}', 'tv', 'rtmp://10.1.2.3:1935/tv'), 'rtmp://sluice.svc:1935/tv');
  assert.equal(reconnectTcUrl('rtmp://sluice.svc/{app}', 'tv', 'rtmp://10.1.2.3/tv?token=abc'), 'rtmp://sluice.svc/tv?token=abc');
  assert.equal(reconnectTcUrl('rtmp://sluice.svc/{app}?k=1', 'tv', 'rtmp://10.1.2.3/tv?token=abc'), 'rtmp://sluice.svc/tv?k=1');
  assert.equal(reconnectTcUrl(undefined, 'tv', 'rtmp://lb.example/tv'), 'rtmp://lb.example/tv');
});

// ---- a server's close --------------------------------------------------------------

interface Watched {
  c: RtmpClient;
  rec: Recorder;
  requests: (ReconnectRequest & { at: number })[];
}

async function setup(cfg: ConfigInput): Promise<{ srv: RunningServer; pool: RtmpClientPool; watch(opts?: RtmpClientOptions, app?: string): Promise<Watched> }> {
  const srv = await startTestServer(cfg);
  const pool = new RtmpClientPool();
  const src = await pool.publisher(rtmpUrl(srv.rtmpPort), 'cam', { gop: 5, frameMs: 20 });
  src.headers();
  src.start();
  return {
    srv,
    pool,
    async watch(opts = {}, app = 'live') {
      const c = await pool.connect(rtmpUrl(srv.rtmpPort, app), opts);
      const w: Watched = { c, rec: new Recorder(c), requests: [] };
      c.on('reconnectRequest', (r) => w.requests.push({ ...r, at: Date.now() }));
      if (app === 'live') {
        await c.play('cam');
        await waitFor(() => w.rec.video().length > 0, 3000, 'video');
      }
      return w;
    },
  };
}

const reconnectMetric = (srv: RunningServer): number => FAMILIES.find((f) => f.name === 'sluice_reconnect_requests_total')!.read(workerSnapshot(srv.ctx))[0]![1];

test('a close asks only the clients that announced capsEx Reconnect, serves them through reconnectWaitMs, then ends everyone', { timeout: 15000 }, async () => {
  const WAIT_MS = 400;
  const { srv, pool, watch } = await setup({ cluster: { reconnectWaitMs: WAIT_MS } });
  try {
    const eRtmp = await watch({ capsEx: CapsEx.Reconnect | CapsEx.Multitrack });
    const multitrackOnly = await watch({ capsEx: CapsEx.Multitrack });
    const legacy = await watch();
    const oddValue = await watch({ connectObject: { capsEx: '1' } });
    const ePublisher = await pool.connect(rtmpUrl(srv.rtmpPort), { capsEx: CapsEx.Reconnect });
    await ePublisher.publish('other');
    assert.equal(eRtmp.c.serverCapsEx, CapsEx.Reconnect, '_result states Reconnect (only what sluice does)');
    for (const w of [multitrackOnly, legacy, oddValue]) assert.equal(w.c.serverCapsEx, 0, "no capsEx in a non-reconnect client's _result");

    const t0 = Date.now();
    await closeServer(srv);
    const took = Date.now() - t0;
    assert.ok(took >= WAIT_MS && took < WAIT_MS + 2000, `close took ${took} ms: the asked clients stayed, so it waited reconnectWaitMs (${WAIT_MS})`);

    assert.equal(eRtmp.requests.length, 1);
    const r = eRtmp.requests[0]!;
    assert.equal(r.tcUrl, rtmpUrl(srv.rtmpPort), 'no reconnectTcUrl: the tcUrl the client connected with');
    assert.deepEqual([r.status.streamId, r.status.level], [0, 'status']);
    assert.ok(eRtmp.rec.video().some((e) => e.at > r.at), 'still served media after the request');
    const stop = eRtmp.rec.statusEntry('NetStream.Play.Stop');
    assert.ok(stop && stop.at >= r.at + WAIT_MS - 50, 'Play.Stop only after the wait');
    for (const [what, w] of Object.entries({ multitrackOnly, legacy, oddValue })) {
      assert.equal(w.requests.length, 0, `${what}: not asked`);
      assert.equal(w.rec.statusIndex(RECONNECT_REQUEST), -1, `${what}: no ReconnectRequest status`);
      await w.rec.status('NetStream.Play.Stop', 2000);
    }
    assert.equal(srv.ctx.counters.reconnectRequests, 2, 'the player and the publisher');
    assert.equal(reconnectMetric(srv), 2, 'sluice_reconnect_requests_total');
  } finally {
    pool.closeAll();
    await closeServer(srv);
  }
});

test('cluster.reconnectRequest=false: no request, no capsEx in _result, no wait', { timeout: 15000 }, async () => {
  const { srv, pool, watch } = await setup({ cluster: { reconnectRequest: false, reconnectWaitMs: 5000 } });
  try {
    const eRtmp = await watch({ capsEx: CapsEx.Reconnect });
    assert.equal(eRtmp.c.serverCapsEx, 0);
    const t0 = Date.now();
    await closeServer(srv);
    assert.ok(Date.now() - t0 < 2000, `close took ${Date.now() - t0} ms`);
    await eRtmp.rec.status('NetStream.Play.Stop', 2000);
    assert.equal(eRtmp.requests.length, 0);
    assert.equal(eRtmp.rec.statusIndex(RECONNECT_REQUEST), -1);
    assert.equal(srv.ctx.counters.reconnectRequests, 0);
  } finally {
    pool.closeAll();
    await closeServer(srv);
  }
});

test('nobody able to reconnect: a close does not wait at all', { timeout: 15000 }, async () => {
  const { srv, pool, watch } = await setup({ cluster: { reconnectWaitMs: 5000 } });
  try {
    const legacy = await watch();
    const t0 = Date.now();
    await closeServer(srv);
    assert.ok(Date.now() - t0 < 1000, `close took ${Date.now() - t0} ms`);
    await legacy.rec.status('NetStream.Play.Stop', 2000);
  } finally {
    pool.closeAll();
    await closeServer(srv);
  }
});

test('reconnectTcUrl names the Service with the client app; a client that moves ends the wait early', { timeout: 15000 }, async () => {
  const { srv, pool, watch } = await setup({ cluster: { reconnectTcUrl: 'rtmp://sluice.example.svc:1935/{app}', reconnectWaitMs: 5000 } });
  try {
    // Connected to app "tv" only (no play): a NetConnection is asked whatever it does.
    const w = await watch({ capsEx: CapsEx.Reconnect, connectObject: { tcUrl: `rtmp://127.0.0.1:${srv.rtmpPort}/tv?token=abc` } }, 'tv');
    w.c.once('reconnectRequest', () => void w.c.close());
    const t0 = Date.now();
    await closeServer(srv);
    assert.ok(Date.now() - t0 < 1500, `close took ${Date.now() - t0} ms, not reconnectWaitMs`);
    assert.equal(w.requests[0]?.tcUrl, 'rtmp://sluice.example.svc:1935/tv?token=abc');
  } finally {
    pool.closeAll();
    await closeServer(srv);
  }
});

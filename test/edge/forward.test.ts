// Publish at an edge: the publish is forwarded to the origin (players at
// the origin and at the edge both get it), and an origin's refusal of the
// name reaches the encoder as BadName.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { freePort } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import { RtmpStatusError } from '../../src/rtmp/client/rtmp-client.js';

const contiguousFromKey = (r: Recorder, what: string): void => {
  const v = r.video();
  assert.ok(v.length > 3, `${what}: frames arrived`);
  assert.equal(v[0]!.kind, 'key', `${what}: starts on a keyframe`);
  for (let k = 1; k < v.length; k++) assert.equal(v[k]!.n, v[k - 1]!.n + 1, `${what}: contiguous`);
};

test('a publish at the edge is forwarded to the origin and served at both', { timeout: 20000 }, async () => {
  const origin = await startTestServer({ player: { mergeWriteMs: 0 }, rtmp: { publishNotify: true } });
  const edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`] }, player: { mergeWriteMs: 0 } });
  const pool = new RtmpClientPool();
  try {
    const pub = await pool.publisher(rtmpUrl(edge.rtmpPort), 'cam');
    // The origin has the name as soon as the encoder heard Publish.Start.
    assert.equal(origin.directory.list().find((e) => e.key === 'live/cam')?.state, 'live');
    pub.headers();
    pub.start();
    const atOrigin = await pool.connect(rtmpUrl(origin.rtmpPort));
    const atEdge = await pool.connect(rtmpUrl(edge.rtmpPort));
    const ro = new Recorder(atOrigin);
    const re = new Recorder(atEdge);
    await atOrigin.play('cam');
    await atEdge.play('cam');
    await ro.frame(pub.nextN + 5, 5000);
    await re.frame(pub.nextN + 5, 5000);
    contiguousFromKey(ro, 'player at the origin');
    contiguousFromKey(re, 'player at the edge');
    // Byte-for-byte what the encoder sent.
    for (const e of ro.video()) assert.ok(e.data.equals(pub.videoData(e.n)!), `frame ${e.n} at the origin is the one sent`);
    const [fwd] = edge.ctx.upstreams!.list();
    assert.equal(fwd?.kind, 'forward');
    assert.equal(fwd?.state, 'publishing');
    // The encoder leaves: the origin's stream goes down with it.
    pub.c.destroy();
    await ro.status('NetStream.Play.UnpublishNotify', 5000);
  } finally {
    pool.closeAll();
    await closeServer(edge);
    await closeServer(origin);
  }
});

test("the origin's BadName reaches the edge's encoder; an unreachable origin fails the publish", { timeout: 20000 }, async () => {
  const origin = await startTestServer();
  const edge = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${origin.rtmpPort}`] } });
  const dead = await startTestServer({ mode: 'edge', edge: { origins: [`rtmp://127.0.0.1:${await freePort()}`], connectTimeoutMs: 500 } });
  const pool = new RtmpClientPool();
  try {
    await pool.publisher(rtmpUrl(origin.rtmpPort), 'taken');
    const c = await pool.connect(rtmpUrl(edge.rtmpPort));
    await assert.rejects(c.publish('taken'), (err: unknown) => err instanceof RtmpStatusError && err.status.code === 'NetStream.Publish.BadName');
    // The edge did not keep the name for itself.
    assert.equal(edge.directory.list().find((e) => e.key === 'live/taken'), undefined);
    const d = await pool.connect(rtmpUrl(dead.rtmpPort));
    await assert.rejects(d.publish('cam'), (err: unknown) => err instanceof RtmpStatusError && err.status.code === 'NetStream.Publish.Failed');
  } finally {
    pool.closeAll();
    await closeServer(dead);
    await closeServer(edge);
    await closeServer(origin);
  }
});

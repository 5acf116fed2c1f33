/**
 * An origin cluster whose cross-node stream directory is a real Redis
 * (Debian's redis-server on a free port): two origin processes and one edge
 * process, as operators run them. The edge's static origin list names only
 * origin A; Redis is what tells it that origin B has the stream. Then:
 * BadName across nodes, a Redis outage that local service rides out and
 * recovers from, and a node killed without cleanup whose key expires.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { killAll, startServe, type Cli } from '../helpers/cli-process.js';
import { killAllRedis, RedisServer } from '../helpers/redis-server.js';
import { waitFor, withTimeout } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { Recorder } from '../helpers/rtmp-recorder.js';

const TTL_MS = 2000;
const pool = new RtmpClientPool();
const probes: Redis[] = [];

after(() => {
  pool.closeAll();
  for (const r of probes) r.disconnect();
  killAll();
  killAllRedis();
});

/** `serve` on fresh loopback ports, advertising its RTMP port. */
function node(name: string, sets: string[], workers: number): Promise<Cli> {
  return startServe([
    '--workers', String(workers),
    '--set', 'cluster.advertise=rtmp://127.0.0.1:{port}',
    '--set', `cluster.redis.ttlMs=${TTL_MS}`, '--set', 'cluster.redis.refreshMs=400', '--set', 'cluster.shutdownGraceMs=1000',
    '--set', 'player.mergeBudgetMs=0',
    ...sets.flatMap((s) => ['--set', s]),
  ], name);
}

const streamKey = (name: string): string => `sluice:stream:live/${name}`;

async function getText(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: await res.text() };
}

test('origins share one stream directory in Redis: an edge pulls from the origin that has the stream, BadName holds across nodes, outages fail soft, dead nodes expire', { timeout: 90000 }, async () => {
  const redis = await RedisServer.start();
  const probe = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  probes.push(probe);
  probe.on('error', () => undefined);
  const origin = (name: string) => node(name, ['mode=origin', `cluster.redis.url=${redis.url}`], 1);
  const [a, b] = await Promise.all([origin('origin A'), origin('origin B')]);
  // workers 0: the edge runs the single-thread path (the in-process directory link).
  const edge = await node('edge', ['mode=edge', `edge.origins=["rtmp://127.0.0.1:${a.rtmpPort}"]`, `cluster.redis.url=${redis.url}`], 0);

  // --- publish on B, play on the edge: pulled from B, which only Redis names.
  const pubB = await pool.publisher(rtmpUrl(b.rtmpPort), 'cam', { gop: 10 });
  pubB.headers();
  pubB.start();
  await waitFor(async () => (await probe.get(streamKey('cam')))?.startsWith(`rtmp://127.0.0.1:${b.rtmpPort} `) === true, 5000, 'B holds live/cam in redis');
  const viewer = new Recorder(await pool.connect(rtmpUrl(edge.rtmpPort)));
  await viewer.c.play('cam');
  await viewer.frame(pubB.nextN + 5, 8000);
  const pulled = await edge.waitLog((l) => l.msg === 'upstream state' && l.state === 'playing', 5000, 'edge upstream playing');
  assert.equal(pulled.origin, `rtmp://127.0.0.1:${b.rtmpPort}`, 'the edge pulled from B (its static list names only A)');

  // --- a second publisher of the name on A: BadName, as on one node.
  const dup = await pool.connect(rtmpUrl(a.rtmpPort));
  await assert.rejects(dup.publish('cam'), (err: Error & { code?: string }) => {
    assert.match(`${err.code} ${err.message}`, /BadName/);
    return true;
  });
  const refusal = await a.waitLog((l) => /already being published on rtmp:\/\/127\.0\.0\.1:\d+/.test(String(l.reason ?? '')), 3000, 'A logs whose the name is');
  assert.match(String(refusal.reason), new RegExp(`:${b.rtmpPort}`));

  // --- a player waits on the edge for a stream that is published later on B: Redis pub/sub wakes the
  // pull, which leaves its wait at the static origin A and goes to B directly (not through A).
  const early = new Recorder(await pool.connect(rtmpUrl(edge.rtmpPort)));
  const playing = early.c.play('late');
  await edge.waitLog((l) => l.msg === 'upstream state' && l.streamKey === 'live/late' && l.state === 'connecting', 3000, 'edge pull of live/late started');
  await new Promise((r) => setTimeout(r, 500));
  const late = await pool.publisher(rtmpUrl(b.rtmpPort), 'late', { gop: 10 });
  late.headers();
  late.start();
  await playing;
  await early.frame(late.nextN + 3, 8000);
  const lateUp = await edge.waitLog((l) => l.msg === 'upstream state' && l.streamKey === 'live/late' && l.state === 'playing', 3000, 'edge pull of live/late playing');
  assert.equal(lateUp.origin, `rtmp://127.0.0.1:${b.rtmpPort}`, 'woken by pub/sub, the pull went to B');
  late.stop();
  early.c.destroy();

  // --- an origin asked for a stream it does not have pulls it from the node that has it.
  const atA = new Recorder(await pool.connect(rtmpUrl(a.rtmpPort)));
  await atA.c.play('cam');
  await atA.frame(pubB.nextN + 5, 8000);

  // --- Redis goes away: local publish and playback go on; lookups fail soft.
  await redis.stop();
  const pubA = await pool.publisher(rtmpUrl(a.rtmpPort), 'local', { gop: 10 });
  pubA.headers();
  pubA.start();
  const local = new Recorder(await pool.connect(rtmpUrl(a.rtmpPort)));
  await local.c.play('local');
  await local.frame(pubA.nextN + 5, 5000);
  const seenAtOutage = pubB.nextN;
  await viewer.frame(seenAtOutage + 5, 5000);
  const ready = await getText(`http://127.0.0.1:${a.adminPort}/readyz`);
  assert.equal(ready.status, 200, 'still ready: local service does not need Redis');
  assert.match(ready.body, /redis: down/);
  const metrics = await getText(`http://127.0.0.1:${a.adminPort}/metrics`);
  assert.match(metrics.body, /^sluice_redis_up 0$/m);
  assert.match(metrics.body, /^sluice_redis_claims_total\{result="unavailable"\} 1$/m);
  // A new stream on the edge: the lookup fails, the static origin (A) serves it.
  const viaStatic = new Recorder(await pool.connect(rtmpUrl(edge.rtmpPort)));
  await viaStatic.c.play('local');
  await viaStatic.frame(pubA.nextN + 5, 8000);

  // --- Redis returns: both origins claim their live names again.
  await redis.start();
  await waitFor(async () => (await probe.get(streamKey('local')).catch(() => null))?.startsWith(`rtmp://127.0.0.1:${a.rtmpPort} `) === true, 8000, 'A claims live/local again');
  await waitFor(async () => (await probe.get(streamKey('cam')).catch(() => null))?.startsWith(`rtmp://127.0.0.1:${b.rtmpPort} `) === true, 8000, 'B claims live/cam again');
  assert.match((await getText(`http://127.0.0.1:${a.adminPort}/readyz`)).body, /redis: up/);

  // --- B dies without cleanup: its key expires within the TTL, and the name is free on A.
  const killedAt = Date.now();
  await b.kill();
  await waitFor(async () => (await probe.get(streamKey('cam'))) === null, TTL_MS + 3000, 'live/cam expires');
  assert.ok(Date.now() - killedAt <= TTL_MS + 1000, `expired ${Date.now() - killedAt} ms after the kill (ttl ${TTL_MS} ms, refresh 400 ms)`);
  const again = await pool.connect(rtmpUrl(a.rtmpPort));
  // A still serves its pulled copy of live/cam to a player (its pull retries the dead B): the client's publish takes it over.
  await withTimeout(again.publish('cam'), 5000, 'publish live/cam on A once B is gone');
  await waitFor(async () => (await probe.get(streamKey('cam')))?.startsWith(`rtmp://127.0.0.1:${a.rtmpPort} `) === true, 3000, 'A holds live/cam');
  const before = atA.video().length;
  const newSource = pool.source(again, { gop: 10 });
  newSource.headers();
  newSource.start();
  await waitFor(() => atA.video().length > before + 10, 5000, 'the player at A watches the new publisher without reconnecting');
  assert.equal(atA.closed, false);

  // --- an unpublish gives the key back at once.
  again.destroy();
  await waitFor(async () => (await probe.get(streamKey('cam'))) === null, 1500, 'live/cam released on unpublish (before the TTL)');
});

test('an origin that drains gives its names back at once: an E-RTMP publisher asked to reconnect publishes the same name on the next origin without BadName', { timeout: 60000 }, async () => {
  const redis = await RedisServer.start();
  const probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  probes.push(probe);
  const b = await node('origin B', ['mode=origin', `cluster.redis.url=${redis.url}`], 1);
  // B stands for the Service the publisher comes back through.
  const a = await node('origin A', ['mode=origin', `cluster.redis.url=${redis.url}`, `cluster.reconnectTcUrl=rtmp://127.0.0.1:${b.rtmpPort}/{app}`,
    'cluster.drainDelayMs=300', 'cluster.reconnectWaitMs=4000'], 1);

  const first = await pool.connect(rtmpUrl(a.rtmpPort), { capsEx: 1 });
  await first.publish('show');
  const pubA = pool.source(first, { gop: 10 });
  pubA.headers();
  pubA.start();
  await waitFor(async () => (await probe.get(streamKey('show')))?.startsWith(`rtmp://127.0.0.1:${a.rtmpPort} `) === true, 5000, 'A holds live/show');
  const asked = new Promise<string>((resolve) => first.once('reconnectRequest', (r) => resolve(r.tcUrl)));

  a.child.kill('SIGTERM');
  const tcUrl = await withTimeout(asked, 5000, 'ReconnectRequest to the publisher');
  assert.equal(tcUrl, `rtmp://127.0.0.1:${b.rtmpPort}/live`);
  assert.equal(await probe.get(streamKey('show')), null, 'the draining node gave the name back before asking');
  // The E-RTMP flow: connect to the new server and publish there, then close the old connection.
  const moved = await pool.connect(tcUrl);
  await withTimeout(moved.publish('show'), 3000, 'publish live/show on B while A still has it');
  const pubB = pool.source(moved, { gop: 10 });
  pubB.headers();
  pubB.start();
  pubA.stop();
  first.destroy();
  await waitFor(async () => (await probe.get(streamKey('show')))?.startsWith(`rtmp://127.0.0.1:${b.rtmpPort} `) === true, 3000, 'B holds live/show');
  const viewer = new Recorder(await pool.connect(rtmpUrl(b.rtmpPort)));
  await viewer.c.play('show');
  await viewer.frame(pubB.nextN + 3, 5000);
  const exit = await withTimeout(a.exited, 8000, 'A exits');
  assert.equal(exit.code, 0);
});

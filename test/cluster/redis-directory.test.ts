/**
 * RedisDirectory against a real redis-server: claims across two nodes,
 * a claim given back when the local grant fails, release only of one's own
 * key, lookups (never of oneself), conflicts found on refresh, and leave.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisDirectory } from '../../src/cluster/redis-directory.js';
import type { PublishGrant, Refusal } from '../../src/cluster/messages.js';
import { killAllRedis, RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/net.js';

const quiet = { info: () => undefined, warn: () => undefined };
const open: RedisDirectory[] = [];
after(async () => {
  await Promise.all(open.map((d) => d.close()));
  killAllRedis();
});

const GRANT: PublishGrant = { ok: true, id: 1, sab: new SharedArrayBuffer(8) };
const NO_ROOM: Refusal = { ok: false, code: 'ERR_LIMIT', reason: 'no room' };

function node(url: string, advertise: string, refreshMs = 200): RedisDirectory {
  const d = new RedisDirectory({ url, keyPrefix: 't:', ttlMs: 2000, refreshMs, commandTimeoutMs: 1000, advertise: () => advertise, claims: true, log: quiet });
  open.push(d);
  return d;
}

/** claimFor's outcome: 'granted', 'not granted' (the local grant refused) or the refusal's reason. */
async function claim(d: RedisDirectory, name: string, grant: PublishGrant = GRANT): Promise<string> {
  let out = 'not called';
  await d.claimFor(name, () => ((out = grant.ok ? 'granted' : 'not granted'), grant), (r) => (out = r.reason));
  return out;
}

test('claims, releases, lookups and conflicts on a real Redis', { timeout: 20000 }, async () => {
  const redis = await RedisServer.start();
  const probe = new Redis(redis.url);
  try {
    const x = node(redis.url, 'rtmp://10.0.0.1:1935');
    const y = node(redis.url, 'rtmp://10.0.0.2:1935');
    await waitFor(() => x.stats().up && y.stats().up, 3000, 'both connected');

    assert.equal(await claim(x, 'live/a'), 'granted');
    assert.equal(await claim(y, 'live/a'), 'live/a is already being published on rtmp://10.0.0.1:1935');
    assert.equal(await claim(x, 'live/a'), 'granted', 'a node claiming its own name again (a second local publisher: the local directory decides)');
    assert.equal(await y.locate('live/a'), 'rtmp://10.0.0.1:1935');
    assert.equal(await x.locate('live/a'), undefined, 'never pull from oneself');
    assert.ok(Number(await probe.pttl('t:stream:live/a')) > 0, 'the key has a TTL');
    // A value no node wrote names nowhere to pull from.
    await probe.set('t:stream:live/junk', 'not-a-url at all');
    assert.equal(await y.locate('live/junk'), undefined);
    await probe.set('t:stream:live/path', 'rtmp://10.0.0.9:1935/live x');
    assert.equal(await y.locate('live/path'), undefined, 'a node advertises host:port, never a path');

    y.released('live/a');
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(await probe.get('t:stream:live/a'), "a node cannot release another node's key");
    x.released('live/a');
    await waitFor(async () => (await probe.get('t:stream:live/a')) === null, 2000, 'released');
    assert.equal(await claim(y, 'live/a'), 'granted', 'free again');

    // Claimed, then the local directory refused it (no room): the name goes back at once.
    assert.equal(await claim(x, 'live/b', NO_ROOM), 'not granted');
    await waitFor(async () => (await probe.get('t:stream:live/b')) === null, 2000, 'a claim whose grant failed is given back');

    // Another node took x's name behind its back (both were live during an outage): a conflict on refresh.
    assert.equal(await claim(x, 'live/c'), 'granted');
    await probe.set('t:stream:live/c', 'rtmp://10.0.0.2:1935 other');
    await waitFor(() => x.stats().conflicts === 1, 3000, 'conflict found on refresh');
    assert.equal(await probe.get('t:stream:live/c'), 'rtmp://10.0.0.2:1935 other', 'the other node keeps it');

    // Refresh keeps a held key past its TTL.
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(await probe.get('t:stream:live/a'), 'refreshed past ttlMs');

    // x restarts (a pod with a stable address) before its keys expire: the new process takes its names over.
    const x2 = node(redis.url, 'rtmp://10.0.0.1:1935');
    await waitFor(() => x2.stats().up, 3000, 'x2 connected');
    assert.equal(await claim(x2, 'live/x'), 'granted', 'a name nobody holds');
    assert.equal(await claim(x, 'live/own'), 'granted');
    assert.equal(await claim(x2, 'live/own'), 'granted', "the same address's previous process does not block its restart");

    await y.leave();
    assert.equal(await probe.get('t:stream:live/a'), null, 'leave gives every name back');
    assert.equal(y.stats().held, 0);
  } finally {
    probe.disconnect();
    await redis.stop();
  }
});

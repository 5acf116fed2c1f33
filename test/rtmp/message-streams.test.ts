/**
 * Message stream ids are sluice's to assign: createStream hands out the
 * lowest free id (bounded by rtmp.maxMessageStreams), and a play or publish
 * on an id it did not open is refused. The id names the egress form, so
 * this is what keeps one stream's players on one shared egress cache,
 * whatever ids clients make up; a cache goes with its last player.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RtmpClient, RtmpStatusError } from '../../src/rtmp/client/rtmp-client.js';
import type { RunningServer } from '../../src/process/single.js';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { SyntheticPublisher } from '../helpers/synthetic-publisher.js';
import { Recorder } from '../helpers/rtmp-recorder.js';
import { waitFor } from '../helpers/net.js';

let srv: RunningServer;
let pubClient: RtmpClient;
let pub: SyntheticPublisher;
const url = () => `rtmp://127.0.0.1:${srv.rtmpPort}/live`;

before(async () => {
  srv = await startTestServer({ rtmp: { maxMessageStreams: 3 } });
  pubClient = await RtmpClient.connect(url());
  await pubClient.publish('ids');
  pub = new SyntheticPublisher(pubClient, { gop: 10, frameMs: 20 });
  pub.headers();
  pub.start();
});

after(async () => {
  pub?.stop();
  pubClient?.destroy();
  await closeServer(srv);
});

test('players on message stream ids 1, 2, 3 and 77777: only the one createStream opened plays, and the stream has one egress cache', { timeout: 15000 }, async () => {
  const clients = await Promise.all([1, 2, 3, 77777].map(() => RtmpClient.connect(url())));
  try {
    const results = await Promise.allSettled(
      clients.map(async (c, i) => {
        assert.equal(await c.createStream(), 1, 'the first stream of a connection is 1');
        c.streamId = [1, 2, 3, 77777][i]!;
        return c.play('ids');
      }),
    );
    assert.equal(results[0]!.status, 'fulfilled', String((results[0] as PromiseRejectedResult).reason));
    for (const r of results.slice(1)) {
      assert.equal(r.status, 'rejected');
      const err = (r as PromiseRejectedResult).reason;
      assert.ok(err instanceof RtmpStatusError, String(err));
      assert.equal(err.status.code, 'NetStream.Play.Failed');
      assert.match(String(err.status.description), /which createStream did not open/);
    }
    await waitFor(() => clients.slice(1).every((c) => c.isClosed), 2000, 'refused players closed');
    const rec = new Recorder(clients[0]!);
    await waitFor(() => rec.video().length >= 3, 3000, 'the valid player receives video');
    const stream = srv.ctx.hub.get('live', 'ids')!;
    assert.equal(stream.cacheCount, 1, 'one egress cache');
    clients[0]!.destroy();
    await waitFor(() => stream.subscribers.size === 0, 2000, 'player gone');
    assert.equal(stream.cacheCount, 0, 'its cache went with it');
  } finally {
    for (const c of clients) c.destroy();
  }
});

test('createStream gives the lowest free id: create/delete in a loop stays at 1; past rtmp.maxMessageStreams open it fails', { timeout: 10000 }, async () => {
  const c = await RtmpClient.connect(url());
  try {
    for (let i = 0; i < 50; i++) {
      assert.equal(await c.createStream(), 1, `round ${i}`);
      c.command('deleteStream', 1);
    }
    assert.deepEqual([await c.createStream(), await c.createStream(), await c.createStream()], [1, 2, 3]);
    await assert.rejects(c.createStream(), /NetConnection\.Call\.Failed.*rtmp\.maxMessageStreams/);
    c.command('deleteStream', 2);
    assert.equal(await c.createStream(), 2, 'a freed id is handed out again');
    assert.equal(c.isClosed, false, 'the session lives on');
  } finally {
    c.destroy();
  }
});

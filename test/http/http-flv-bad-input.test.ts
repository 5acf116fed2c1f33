// Bad input on the HTTP/WS playback port ends only the offending connection:
// a WebSocket message over the frame limit, a path with control characters,
// a garbage request. A reading HTTP-FLV player and a WS-FLV player of the
// same stream keep receiving every frame meanwhile.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import type { RunningServer } from '../../src/process/single.js';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { SyntheticPublisher } from '../helpers/synthetic-publisher.js';
import { getFlv, wsFlv } from '../helpers/flv-players.js';
import { waitFor } from '../helpers/net.js';
import { counterOf } from '../helpers/synthetic-media.js';

let srv: RunningServer;
let pub: SyntheticPublisher;
let client: RtmpClient;

before(async () => {
  srv = await startTestServer({ media: { playWaitMs: 0 } });
  client = await RtmpClient.connect(`rtmp://127.0.0.1:${srv.rtmpPort}/live`);
  await client.publish('bad');
  pub = new SyntheticPublisher(client, { gop: 10, frameMs: 20 });
  pub.headers();
  pub.start();
});

after(async () => {
  pub?.stop();
  client?.destroy();
  await closeServer(srv);
});

/** Raw request on its own socket; resolves with what came back before the server closed it. */
function raw(bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(srv.httpPort!, '127.0.0.1');
    let got = '';
    s.on('data', (b) => (got += b.toString('latin1')));
    s.on('error', () => resolve(got));
    s.on('close', () => resolve(got));
    s.write(bytes);
    setTimeout(() => s.destroy(), 3000);
  });
}

test('bad HTTP/WS input ends only its own connection; other players keep every frame', { timeout: 20000 }, async () => {
  const base = `127.0.0.1:${srv.httpPort}/live/bad.flv`;
  const httpPlayer = getFlv(`http://${base}`);
  const wsPlayer = wsFlv(`ws://${base}`);
  await wsPlayer.opened;
  await waitFor(() => httpPlayer.flv.tags.length > 5 && wsPlayer.flv.tags.length > 5, 5000, 'players receiving');

  // A WebSocket message over the server's frame limit (16 KiB): uWS closes that socket.
  const rogue = wsFlv(`ws://${base}`);
  await rogue.opened;
  const closed = new Promise<number>((resolve) => rogue.ws.once('close', (code) => resolve(code)));
  rogue.ws.send(Buffer.alloc(64 * 1024));
  const code = await closed;
  assert.notEqual(code, 1000, `oversized message closed the socket abnormally (code ${code})`);
  // ...and the server logged and counted it as that session's protocol error.
  await waitFor(() => (srv.ctx.counters.sessionErrors.ERR_PROTOCOL ?? 0) >= 1, 2000, 'ERR_PROTOCOL counted');

  // Control characters in the stream name: refused as not a stream path.
  assert.match(await raw('GET /live/a%00b.flv HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 404/);
  // Garbage instead of a request: the connection is dropped, nothing served.
  assert.doesNotMatch(await raw('\x16\x03\x01 not http at all\r\n\r\n'), /video\/x-flv/);

  // The well-behaved players never noticed: contiguous frame counters to the end.
  const before = pub.nextN;
  await waitFor(() => counters(httpPlayer.flv.tags, 9).at(-1)! >= before + 10 && counters(wsPlayer.flv.tags, 9).at(-1)! >= before + 10, 5000, 'players still receiving');
  for (const [name, p] of [['http', httpPlayer], ['ws', wsPlayer]] as const) {
    const v = counters(p.flv.tags, 9);
    for (let i = 1; i < v.length; i++) assert.equal(v[i], v[i - 1]! + 1, `${name} player: gap after frame ${v[i - 1]}`);
  }
  assert.equal(httpPlayer.ended, false);
  httpPlayer.close();
  wsPlayer.close();
});

function counters(tags: { type: number; data: Buffer }[], type: number): number[] {
  return tags.filter((t) => t.type === type).map(counterOf).filter((n) => n >= 0);
}

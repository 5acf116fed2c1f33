// An edge pulls from an rtmps:// origin: the certificate is checked against
// edge.tlsCaFile (a self-signed one here) and the stream plays at the edge
// frame for frame. Without the CA the pull is refused at the TLS handshake
// (the certificate is not trusted) and nothing plays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeServer, startTestServer } from '../helpers/servers.js';
import { waitFor } from '../helpers/net.js';
import { RtmpClientPool, rtmpUrl } from '../helpers/rtmp-client-pool.js';
import { getFlv } from '../helpers/flv-players.js';
import { counterOf } from '../helpers/synthetic-media.js';
import { selfSignedCert } from '../helpers/tls-cert.js';
import { RtmpClient } from '../../src/rtmp/client/rtmp-client.js';
import { parseRtmpUrl } from '../../src/rtmp/url.js';

test('rtmps:// URLs: port 443 by default, the scheme kept in tcUrl', () => {
  assert.deepEqual(parseRtmpUrl('rtmps://cdn.example/live'), { host: 'cdn.example', port: 443, app: 'live', tcUrl: 'rtmps://cdn.example/live', tls: true });
  assert.equal(parseRtmpUrl('rtmp://a/live').tls, false);
});

test('an edge pulls over rtmps with the origin CA trusted; without it the pull is refused', { timeout: 30000 }, async () => {
  const cert = selfSignedCert();
  const origin = await startTestServer({ rtmps: { host: '127.0.0.1', port: 0, ...cert }, player: { mergeWriteMs: 0 } });
  const origins = [`rtmps://127.0.0.1:${origin.rtmpsPort}`];
  const edge = await startTestServer({ mode: 'edge', edge: { origins, tlsCaFile: cert.certFile }, player: { mergeWriteMs: 0 } });
  const untrusting = await startTestServer({ mode: 'edge', edge: { origins }, media: { playWaitMs: 1500 } });
  const pool = new RtmpClientPool();
  try {
    const pub = await pool.publisher(rtmpUrl(origin.rtmpPort), 'sec', { gop: 10 });
    pub.headers();
    pub.start();
    const flv = getFlv(`http://127.0.0.1:${edge.httpPort}/live/sec.flv`);
    await waitFor(() => flv.flv.tags.filter((t) => t.type === 9).length > 20, 8000, 'frames at the edge');
    const frames = flv.flv.tags.filter((t) => t.type === 9 && counterOf(t) >= 0);
    for (let k = 1; k < frames.length; k++) assert.equal(counterOf(frames[k]!), counterOf(frames[k - 1]!) + 1, 'contiguous frames through rtmps');
    flv.close();
    assert.equal(edge.ctx.upstreams?.list()[0]?.origin, origins[0]);

    const refused = getFlv(`http://127.0.0.1:${untrusting.httpPort}/live/sec.flv`);
    assert.equal((await refused.res).statusCode, 404, 'no trusted origin had it');
    refused.close();
    // The same check in the client itself.
    await assert.rejects(RtmpClient.connect(`rtmps://127.0.0.1:${origin.rtmpsPort}/live`, { timeoutMs: 3000 }), /self.signed|certificate/i);
  } finally {
    pool.closeAll();
    await closeServer(untrusting);
    await closeServer(edge);
    await closeServer(origin);
  }
});

/**
 * RTMPS: ffmpeg publishes over rtmps:// and plays back over rtmps:// and
 * plain RTMP, one server and a two-worker cluster; a client that speaks
 * plain RTMP to the TLS port is refused at the TLS handshake and nothing
 * else is touched; a renewed certificate is served to new connections
 * while a running publish goes on; bad certificate settings fail the start.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { copyFileSync } from 'node:fs';
import { startServer, type RunningServer } from '../../src/process/single.js';
import { resolveConfig } from '../../src/app/config.js';
import { makeClip, play, publish, type Clip, type FfmpegProcess } from '../helpers/ffmpeg.js';
import { waitFor, withTimeout } from '../helpers/net.js';
import { closeCluster, closeServer, startTestCluster } from '../helpers/servers.js';
import { selfSignedCert } from '../helpers/tls-cert.js';
import type { RunningCluster } from '../../src/process/primary.js';

let clip: Clip;
const procs: FfmpegProcess[] = [];
let srv: RunningServer | undefined;
let cluster: RunningCluster | undefined;

before(async () => {
  clip = await makeClip({ seconds: 8, fps: 25, gop: 25, width: 160, height: 120 });
});

after(async () => {
  for (const p of procs) p.kill();
  await closeServer(srv);
  await closeCluster(cluster);
});

function fingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.on('error', reject);
  });
}

test('one server: ffmpeg publishes over rtmps, plays over rtmps and rtmp; plain RTMP on the TLS port is refused; a renewed certificate is picked up', { timeout: 60000 }, async () => {
  const cert = selfSignedCert('first');
  const local = { host: '127.0.0.1', port: 0 };
  srv = await withTimeout(
    startServer({ rtmp: local, http: local, rtmps: { ...local, ...cert, reloadCheckMs: 200 }, log: { level: 'silent' } }),
    5000,
    'start',
  );
  const s = srv;
  assert.ok(s.rtmpsPort);
  const pub = publish(`rtmps://127.0.0.1:${s.rtmpsPort}/live/sec`, clip);
  procs.push(pub);
  await waitFor(() => s.ctx.hub.get('live', 'sec')?.live === true, 10000, 'rtmps publish live');
  const overTls = play(`rtmps://127.0.0.1:${s.rtmpsPort}/live/sec`, { seconds: 2 });
  const plain = play(`rtmp://127.0.0.1:${s.rtmpPort}/live/sec`, { seconds: 2 });
  const [a, b] = await Promise.all([overTls.done, plain.done]);
  assert.equal(a.exit.code, 0, a.stderr);
  assert.equal(b.exit.code, 0, b.stderr);
  assert.ok(a.packets.length > 40 && b.packets.length > 40, `${a.packets.length} / ${b.packets.length} packets`);
  // The same media through both: most frames of one run are byte for byte (by hash) frames of the other.
  const hashes = new Set(b.packets.map((p) => p.hash));
  const shared = a.packets.filter((p) => hashes.has(p.hash)).length;
  assert.ok(shared > 30, `${shared} frames in common`);

  // Plain RTMP (C0 + C1) on the TLS port: the TLS handshake fails and that socket is closed.
  const failuresBefore = s.ctx.counters.handshakeFailures;
  const raw = net.connect(s.rtmpsPort!, '127.0.0.1');
  raw.on('error', () => undefined);
  await new Promise((r) => raw.once('connect', r));
  raw.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536, 7)]));
  await withTimeout(new Promise((r) => raw.once('close', r)), 5000, 'plain client closed');
  await waitFor(() => s.ctx.counters.handshakeFailures === failuresBefore + 1, 2000, 'counted');
  assert.equal(s.ctx.hub.get('live', 'sec')?.live, true, 'the publisher is untouched');

  // Renewal: new files in place; new connections get the new certificate, the publish goes on.
  const before = await fingerprint(s.rtmpsPort!);
  const renewed = selfSignedCert('second');
  copyFileSync(renewed.keyFile, cert.keyFile);
  copyFileSync(renewed.certFile, cert.certFile);
  await waitFor(async () => (await fingerprint(s.rtmpsPort!)) !== before, 5000, 'renewed certificate served');
  assert.equal(pub.proc.exitCode, null, 'the running rtmps publish was not dropped');
  assert.equal(s.ctx.hub.get('live', 'sec')?.live, true);
});

test('a two-worker cluster serves rtmps on every worker', { timeout: 60000 }, async () => {
  const cert = selfSignedCert();
  cluster = await startTestCluster({ rtmps: { host: '127.0.0.1', port: 0, ...cert } });
  assert.ok(cluster.rtmpsPort);
  const pub = publish(`rtmps://127.0.0.1:${cluster.rtmpsPort}/live/c`, clip);
  procs.push(pub);
  // Players over both transports; with SO_REUSEPORT they land on either worker.
  const players = [0, 1, 2].map((i) => play(`${i === 0 ? 'rtmp' : 'rtmps'}://127.0.0.1:${i === 0 ? cluster!.rtmpPort : cluster!.rtmpsPort}/live/c`, { seconds: 1.5 }));
  const results = await Promise.all(players.map((p) => p.done));
  for (const r of results) {
    assert.equal(r.exit.code, 0, r.stderr);
    assert.ok(r.packets.length > 20, `${r.packets.length} packets`);
  }
});

test('certificate settings: both files or neither; unreadable or bad files fail the start', async () => {
  assert.throws(() => resolveConfig({ rtmps: { certFile: '/x.crt' } }), /rtmps: set both certFile and keyFile/);
  const local = { host: '127.0.0.1', port: 0 };
  await assert.rejects(
    startServer({ rtmp: local, http: { enabled: false }, rtmps: { ...local, certFile: '/nonexistent.crt', keyFile: '/nonexistent.key' }, log: { level: 'silent' } }),
    /rtmps\.certFile \/nonexistent\.crt: cannot read/,
  );
  const a = selfSignedCert();
  const b = selfSignedCert();
  await assert.rejects(
    startServer({ rtmp: local, http: { enabled: false }, rtmps: { ...local, certFile: a.certFile, keyFile: b.keyFile }, log: { level: 'silent' } }),
    /not a usable certificate and key/,
  );
});

/**
 * The admin API's bearer token: without it (or with a wrong one) every
 * listing and mutating endpoint answers 401 with a challenge; with it, 200.
 * Probes and /metrics stay open unless admin.openPaths says otherwise. A
 * token from a file (a Kubernetes Secret) works the same. Without a token
 * the admin port binds to loopback only.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { startServer, type RunningServer } from '../../src/process/single.js';
import { resolveConfig, type ConfigInput } from '../../src/app/config.js';
import { adminAccessOf } from '../../src/app/config-views.js';
import { closeServer } from '../helpers/servers.js';
import { tmpFile } from '../helpers/ffmpeg.js';
import { withTimeout } from '../helpers/net.js';

const TOKEN = 'admin-token-0123456789abcdef';
const started: RunningServer[] = [];

after(async () => {
  for (const s of started) await closeServer(s);
});

async function server(admin: ConfigInput['admin']): Promise<RunningServer> {
  const local = { host: '127.0.0.1', port: 0 };
  const s = await withTimeout(startServer({ rtmp: local, http: local, admin: { port: 0, ...admin }, log: { level: 'silent' } }, undefined, { admin: true }), 5000, 'start');
  started.push(s);
  return s;
}

async function call(s: RunningServer, method: string, path: string, token?: string): Promise<{ status: number; challenge: string | null; body: string }> {
  const r = await fetch(`http://127.0.0.1:${s.adminPort}${path}`, { method, headers: token === undefined ? {} : { authorization: token } });
  return { status: r.status, challenge: r.headers.get('www-authenticate'), body: await r.text() };
}

const GUARDED: [string, string][] = [
  ['GET', '/api/v1/streams'],
  ['GET', '/api/v1/clients'],
  ['GET', '/api/v1/upstreams'],
  ['DELETE', '/api/v1/streams/live/x'],
  ['DELETE', '/api/v1/clients/0-rtmp-1'],
];

test('a token guards the API; probes and /metrics stay open', async () => {
  const s = await server({ host: '127.0.0.1', token: TOKEN });
  for (const [method, path] of GUARDED) {
    for (const auth of [undefined, 'Bearer wrong-token-0123456789abcd', `Basic ${TOKEN}`, 'Bearer ', `Bearer ${TOKEN}x`]) {
      const r = await call(s, method, path, auth);
      assert.equal(r.status, 401, `${method} ${path} with ${auth}`);
      assert.equal(r.challenge, 'Bearer realm="sluice"');
      assert.equal(JSON.parse(r.body).error.code, 'UNAUTHORIZED');
    }
  }
  assert.equal((await call(s, 'GET', '/api/v1/streams', `Bearer ${TOKEN}`)).status, 200);
  assert.equal((await call(s, 'GET', '/api/v1/clients', `bearer ${TOKEN}`)).status, 200, 'the scheme is case-insensitive');
  assert.equal((await call(s, 'DELETE', '/api/v1/streams/live/x', `Bearer ${TOKEN}`)).status, 404, 'past the token: the API answers');
  for (const path of ['/healthz', '/readyz', '/metrics']) assert.equal((await call(s, 'GET', path)).status, 200, path);
});

test('admin.openPaths closes /metrics too; a token file works like the key', async () => {
  const file = tmpFile('admin-token');
  writeFileSync(file, `${TOKEN}\n`);
  const s = await server({ host: '127.0.0.1', tokenFile: file, openPaths: ['/healthz'] });
  assert.equal((await call(s, 'GET', '/metrics')).status, 401);
  assert.equal((await call(s, 'GET', '/readyz')).status, 401);
  assert.equal((await call(s, 'GET', '/healthz')).status, 200);
  assert.equal((await call(s, 'GET', '/metrics', `Bearer ${TOKEN}`)).status, 200, 'the trailing newline of the file is not part of the token');
});

test('without a token the admin port binds to loopback; with one, to every address; bad tokens fail the start', () => {
  assert.equal(adminAccessOf(resolveConfig({})).host, '127.0.0.1');
  assert.equal(adminAccessOf(resolveConfig({ admin: { token: TOKEN } })).host, '0.0.0.0');
  assert.equal(adminAccessOf(resolveConfig({ admin: { host: '0.0.0.0' } })).host, '0.0.0.0', 'an explicit host is kept (a warning is logged)');
  assert.throws(() => resolveConfig({ admin: { token: 'short' } }), /admin\.token: an admin token needs at least 16/);
  assert.throws(() => adminAccessOf(resolveConfig({ admin: { tokenFile: '/nonexistent/token' } })), /admin\.tokenFile \/nonexistent\/token: cannot read/);
  const short = tmpFile('short-token');
  writeFileSync(short, 'abc\n');
  assert.throws(() => adminAccessOf(resolveConfig({ admin: { tokenFile: short } })), /at least 16 characters/);
});

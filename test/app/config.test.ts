import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromEnv, ignoredEnvNames, readConfigFile, resolveConfig, setPath } from '../../src/app/config.js';
import { sluiceServiceLinks } from './k8s-service-links.js';

test('embedded defaults', () => {
  const c = resolveConfig({});
  assert.equal(c.rtmp.port, 1935);
  assert.equal(c.media.republishGraceMs, 5000);
  assert.equal(c.player.writeHighWaterBytes, 1024 * 1024);
});

test('file < env < flags precedence, deep merge', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cfg-'));
  const file = join(dir, 'sluice.yaml');
  writeFileSync(file, 'rtmp:\n  port: 2000\n  host: 127.0.0.1\nmedia:\n  playWaitMs: 1\n');
  const flags = {};
  setPath(flags, 'rtmp.port', '3000');
  const c = resolveConfig(readConfigFile(file), configFromEnv({ SLUICE_RTMP__PORT: '2500', SLUICE_MEDIA__REPUBLISHGRACEMS: '9' }), flags);
  assert.equal(c.rtmp.port, 3000);
  assert.equal(c.rtmp.host, '127.0.0.1');
  assert.equal(c.media.playWaitMs, 1);
  assert.equal(c.media.republishGraceMs, 9);
});

test('a bad value or unknown key fails naming the key', () => {
  assert.throws(() => resolveConfig({ rtmp: { port: 70000 } }), /rtmp\.port/);
  assert.throws(() => resolveConfig({ rtmp: { prot: 1 } } as never), /rtmp.*prot/);
  assert.throws(() => resolveConfig({ player: { stallTimeoutMs: 'soon' } } as never), /player\.stallTimeoutMs/);
  assert.throws(() => configFromEnv({ SLUICE_RTMP__NOPE: '1' }), /SLUICE_RTMP__NOPE/);
  // A timeout shorter than two heartbeats would replace healthy workers.
  assert.throws(() => resolveConfig({ cluster: { heartbeatMs: 1000, heartbeatTimeoutMs: 1500 } }), /cluster\.heartbeatTimeoutMs/);
  assert.equal(resolveConfig({ cluster: { heartbeatMs: 1000, heartbeatTimeoutMs: 0 } }).cluster.heartbeatTimeoutMs, 0);
});

test('Kubernetes service links of a Service named sluice are not config (issue 15)', () => {
  const links = sluiceServiceLinks();
  assert.deepEqual(configFromEnv(links), {});
  assert.deepEqual(resolveConfig(configFromEnv(links)), resolveConfig({}), 'defaults unchanged');
  assert.deepEqual(ignoredEnvNames(links), Object.keys(links).sort(), 'every one is reported as ignored');

  // SLUICE_<SECTION>__<KEY> beside them still applies, and a typo in that form still fails naming it.
  const c = resolveConfig(configFromEnv({ ...links, SLUICE_RTMP__PORT: '1936' }));
  assert.equal(c.rtmp.port, 1936);
  assert.equal(c.http.port, 8080);
  assert.throws(() => configFromEnv({ ...links, SLUICE_RTMP__NOSUCHKEY: '1' }), { code: 'ERR_CONFIG', message: /SLUICE_RTMP__NOSUCHKEY/ });
  assert.throws(() => configFromEnv({ SLUICE_NOSECTION__PORT: '1' }), /SLUICE_NOSECTION__PORT/);
  assert.deepEqual(ignoredEnvNames({ ...links, SLUICE_RTMP__PORT: '1936', SLUICE_CONFIG: '/etc/sluice.yaml', HOME: '/root' }), Object.keys(links).sort());
});

test('unreadable or unparsable file is a config error', () => {
  assert.throws(() => readConfigFile('/nonexistent/sluice.yaml'), { code: 'ERR_CONFIG' });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cfg-'));
  writeFileSync(join(dir, 'bad.json'), '{ nope');
  assert.throws(() => readConfigFile(join(dir, 'bad.json')), { code: 'ERR_CONFIG' });
});

test('deeper keys come from the environment with one __ per level', () => {
  const c = resolveConfig(configFromEnv({ SLUICE_CLUSTER__REDIS__URL: 'redis://10.0.0.9:6379/2', SLUICE_CLUSTER__REDIS__TTL_MS: '20000', SLUICE_CLUSTER__ADVERTISE: 'rtmp://10.1.2.3:1935' }));
  assert.equal(c.cluster.redis.url, 'redis://10.0.0.9:6379/2');
  assert.equal(c.cluster.redis.ttlMs, 20000);
  assert.equal(c.cluster.advertise, 'rtmp://10.1.2.3:1935');
  // A section is not a value, and a typo one level down still names the variable.
  assert.throws(() => configFromEnv({ SLUICE_CLUSTER__REDIS: 'redis://x' }), /SLUICE_CLUSTER__REDIS\b/);
  assert.throws(() => configFromEnv({ SLUICE_CLUSTER__REDIS__URI: 'redis://x' }), /SLUICE_CLUSTER__REDIS__URI/);
  assert.throws(() => resolveConfig({ cluster: { redis: { ttlMs: 4000, refreshMs: 3000 } } }), /cluster\.redis\.refreshMs/);
});

test('cluster.advertise is an address, not an application URL', () => {
  assert.throws(() => resolveConfig({ cluster: { advertise: 'rtmp://10.0.0.1:1935/live' } }), /cluster\.advertise/);
  assert.equal(resolveConfig({ cluster: { advertise: 'rtmps://o-0.origin:443' } }).cluster.advertise, 'rtmps://o-0.origin:443');
});

// Where the load may go (loadtest/targets.ts): loopback only unless
// allowed, and the player URLs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTargets, fillTemplate, isLoopbackAddress, playUrl, resolvesToLoopback } from '../../loadtest/targets.js';
import { resolveOptions } from '../../loadtest/options.js';
import { parseCliArgs } from '../../loadtest/args.js';

test('loopback addresses', () => {
  for (const a of ['127.0.0.1', '127.255.0.9', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::ffff:7f00:1']) assert.ok(isLoopbackAddress(a), a);
  for (const a of ['10.0.0.1', '0.0.0.0', '128.0.0.1', '::', '::2', '::ffff:10.0.0.1', 'fe80::1', 'localhost', 'example.com', '']) assert.ok(!isLoopbackAddress(a), a);
});

test('names count as loopback only when every address they resolve to is', async () => {
  const dns = (table: Record<string, string[]>) => async (h: string) => {
    if (!(h in table)) throw new Error('ENOTFOUND');
    return table[h]!;
  };
  const r = dns({ localhost: ['127.0.0.1', '::1'], mixed: ['127.0.0.1', '192.0.2.7'], remote: ['192.0.2.7'], none: [] });
  assert.equal(await resolvesToLoopback('localhost', r), true);
  assert.equal(await resolvesToLoopback('mixed', r), false);
  assert.equal(await resolvesToLoopback('remote', r), false);
  assert.equal(await resolvesToLoopback('none', r), false);
  assert.equal(await resolvesToLoopback('unknown', r), false);
  assert.equal(await resolvesToLoopback('127.0.0.1', r), true);
  assert.equal(await resolvesToLoopback('[::1]', r), true);
});

test('a remote target is refused unless --allow-remote; so is a remote HTTP-FLV template', async () => {
  await assert.rejects(checkTargets(resolveOptions({ target: 'rtmp://192.0.2.7/live' })), /refusing non-loopback target 192\.0\.2\.7.*--allow-remote/);
  await checkTargets(resolveOptions({ target: 'rtmp://192.0.2.7/live', allowRemote: true }));
  await checkTargets(resolveOptions({ target: 'rtmp://127.0.0.1:1935/live' }));
  await checkTargets(resolveOptions({ target: 'rtmp://[::1]:1935/live', playProtocols: ['ws-flv'] }));
  await assert.rejects(
    checkTargets(resolveOptions({ target: 'rtmp://127.0.0.1/live', playProtocols: ['http-flv'], playUrlTemplate: 'http://192.0.2.7:8080/{app}/{stream}.flv' })),
    /192\.0\.2\.7/,
  );
});

test('player URLs from the template', () => {
  const o = resolveOptions({ target: 'rtmp://127.0.0.1:1935/live', playUrlTemplate: 'http://{host}:8080/{app}/{stream}.flv' });
  assert.equal(playUrl(o, 'rtmp', 's-1'), 'rtmp://127.0.0.1:1935/live');
  assert.equal(playUrl(o, 'http-flv', 's-1'), 'http://127.0.0.1:8080/live/s-1.flv');
  assert.equal(playUrl(o, 'ws-flv', 's-1'), 'ws://127.0.0.1:8080/live/s-1.flv');
  assert.equal(playUrl({ ...o, playUrlTemplate: 'https://h/{stream}.flv' }, 'ws-flv', 'x'), 'wss://h/x.flv');
  assert.equal(fillTemplate('http://{host}/{app}/{stream}.flv', { host: '::1', app: 'a/b', stream: 'c d' }), 'http://[::1]/a/b/c%20d.flv');
});

test('flags: parsed, checked, and bad ones named', () => {
  const a = parseCliArgs(['--target', 'rtmp://127.0.0.1/live', '--players', '5', '--play-protocol', 'rtmp,http-flv', '--play-protocol', 'ws-flv', '--audio', 'off', '--max-p99', '50', '--out', '/tmp/x']);
  assert.equal(a.out, '/tmp/x');
  const o = resolveOptions(a.input);
  assert.deepEqual(o.playProtocols, ['rtmp', 'http-flv', 'ws-flv']);
  assert.equal(o.players, 5);
  assert.equal(o.audio, false);
  assert.equal(o.maxP99Ms, 50);
  assert.equal(o.durationS, 30);
  assert.throws(() => parseCliArgs(['--players', '3']), /--target/);
  // Durations take units; plain numbers stay seconds (milliseconds for --timeout).
  const d = (args: string[]) => resolveOptions(parseCliArgs(['--target', 'rtmp://127.0.0.1/live', ...args]).input);
  assert.equal(d(['--duration', '10s']).durationS, 10);
  assert.equal(d(['--duration', '2m', '--ramp', '500ms']).durationS, 120);
  assert.equal(d(['--duration', '2m', '--ramp', '500ms']).rampS, 0.5);
  assert.equal(d(['--duration', '1m30s']).durationS, 90);
  assert.equal(d(['--duration', '45']).durationS, 45);
  assert.equal(d(['--timeout', '3s']).timeoutMs, 3000);
  assert.equal(d(['--timeout', '2500']).timeoutMs, 2500);
  for (const bad of ['10x', 's', '', '1m-3s', 'ten'])
    assert.throws(() => parseCliArgs(['--target', 'rtmp://127.0.0.1/live', '--duration', bad]), /--duration: ".*" is not a duration/, bad);
  assert.throws(() => parseCliArgs(['--target', 'rtmp://127.0.0.1/live', '--fps', 'fast']), /--fps: "fast" is not a number/);
  assert.throws(() => resolveOptions({ target: 'rtmp://127.0.0.1/live', playProtocols: ['srt' as 'rtmp'] }), /--play-protocol: "srt"/);
  assert.throws(() => resolveOptions({ target: 'rtmp://127.0.0.1/live', maxGapRate: 2 }), /--max-gap-rate/);
  assert.throws(() => resolveOptions({ target: 'rtmp://127.0.0.1/live', rampS: 10, durationS: 5 }), /--ramp/);
});

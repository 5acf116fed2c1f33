/**
 * The access policy on its own: CIDR rules for IPv4, IPv6 and dual-stack
 * peers, signed URLs (valid, expired, tampered, wrong action, rotated,
 * IP-bound), and config validation of both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessPolicy, AccessRefused, type AccessOptions, type AccessRequest } from '../../src/access/policy.js';
import { parseCidr, plainIp } from '../../src/access/ip-rules.js';
import { sign, signedPayload } from '../../src/access/signed-url.js';
import { allows } from '../../src/access/hooks.js';
import { resolveConfig } from '../../src/app/config.js';
import { accessOptionsOf } from '../../src/app/config-views.js';

const NOW = 1_800_000_000_000;
const OLD = 'old-secret-0123456789';
const NEW = 'new-secret-0123456789';

function policy(p: Partial<AccessOptions>): AccessPolicy {
  const o: AccessOptions = {
    publish: { allow: [], deny: [] },
    play: { allow: [], deny: [] },
    signed: { publishSecrets: [], playSecrets: [], bindIp: false },
    ...p,
  };
  return new AccessPolicy(o, undefined, () => NOW);
}

function req(over: Partial<AccessRequest> = {}): AccessRequest {
  return { action: 'publish', transport: 'rtmp', ip: '127.0.0.1', app: 'live', name: 'cam', query: '', clientId: '0-rtmp-1', tcUrl: 'rtmp://h/live', ...over };
}

async function refusal(p: AccessPolicy, r: AccessRequest): Promise<string | undefined> {
  try {
    await p.check(r);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof AccessRefused);
    assert.equal(err.code, 'ERR_ACCESS');
    return `${err.reason} ${err.status}`;
  }
}

function signedQuery(secret: string, action: 'publish' | 'play', expiresSec: number, ip?: string, name = 'cam'): string {
  return `expires=${expiresSec}&sign=${sign(secret, signedPayload(action, 'live', name, String(expiresSec), ip))}`;
}

test('IP rules: deny wins, a non-empty allow list admits only its ranges, per action', async () => {
  const p = policy({ publish: { allow: ['10.0.0.0/8', '::1'], deny: ['10.9.0.0/16'] }, play: { allow: [], deny: ['192.0.2.0/24', '2001:db8::/32'] } });
  assert.equal(await refusal(p, req({ ip: '10.1.2.3' })), undefined);
  assert.equal(await refusal(p, req({ ip: '::ffff:10.1.2.3' })), undefined, 'a dual-stack IPv4 peer matches IPv4 rules');
  assert.equal(await refusal(p, req({ ip: '::1' })), undefined);
  assert.equal(await refusal(p, req({ ip: '10.9.1.1' })), 'ip-denied 403');
  assert.equal(await refusal(p, req({ ip: '127.0.0.1' })), 'ip-denied 403', 'not in the allow list');
  assert.equal(await refusal(p, req({ action: 'play', ip: '127.0.0.1' })), undefined, 'play has its own lists');
  assert.equal(await refusal(p, req({ action: 'play', ip: '192.0.2.77' })), 'ip-denied 403');
  assert.equal(await refusal(p, req({ action: 'play', ip: '2001:db8:1::5' })), 'ip-denied 403');
  assert.equal(await refusal(p, req({ action: 'play', ip: '' })), 'ip-denied 403', 'an unknown address is refused when rules exist');
});

test('CIDR parsing: ranges and single addresses; garbage is a config error naming the key', async () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  for (const bad of ['10.0.0.0/33', '10.0.0/8', 'example.com', '::1/129', '1.2.3.4/8/9', '1.2.3.4/x']) {
    assert.throws(() => parseCidr(bad), /not an IP address or CIDR range/, bad);
  }
  assert.throws(() => resolveConfig({ access: { playDeny: ['10.0.0.0/40'] } }), /access\.playDeny\.0: "10.0.0.0\/40" is not an IP/);
  assert.throws(() => resolveConfig({ access: { publishSecrets: ['short'] } }), /access\.publishSecrets\.0: a signing secret needs/);
});

test('signed URLs: valid, expired, tampered, other action, other stream, rotated secrets', async () => {
  const p = policy({ signed: { publishSecrets: [NEW, OLD], playSecrets: [], bindIp: false } });
  const t = NOW / 1000;
  assert.equal(await refusal(p, req({ query: signedQuery(NEW, 'publish', t + 60) })), undefined);
  assert.equal(await refusal(p, req({ query: signedQuery(OLD, 'publish', t + 60) })), undefined, 'the old secret still verifies during rotation');
  assert.equal(await refusal(p, req({ query: `token=x&${signedQuery(NEW, 'publish', t + 60)}` })), undefined, 'other parameters are left alone');
  assert.equal(await refusal(p, req({ query: '' })), 'unsigned 401');
  assert.equal(await refusal(p, req({ query: signedQuery(NEW, 'publish', t - 1) })), 'expired 401');
  assert.equal(await refusal(p, req({ query: signedQuery('another-secret-12345', 'publish', t + 60) })), 'bad-signature 401');
  assert.equal(await refusal(p, req({ query: signedQuery(NEW, 'play', t + 60) })), 'bad-signature 401', 'a play signature does not publish');
  assert.equal(await refusal(p, req({ query: signedQuery(NEW, 'publish', t + 60, undefined, 'other') })), 'bad-signature 401', 'signed for another stream');
  const tampered = signedQuery(NEW, 'publish', t + 60).replace(`expires=${t + 60}`, `expires=${t + 6000}`);
  assert.equal(await refusal(p, req({ query: tampered })), 'bad-signature 401', 'a moved expiry breaks the signature');
  assert.equal(await refusal(p, req({ query: 'expires=abc&sign=zz' })), 'bad-signature 401');
  assert.equal(await refusal(p, req({ action: 'play' })), undefined, 'no play secrets: play is open');
  // Once the old secret is dropped, its URLs stop working.
  const rotated = policy({ signed: { publishSecrets: [NEW], playSecrets: [], bindIp: false } });
  assert.equal(await refusal(rotated, req({ query: signedQuery(OLD, 'publish', t + 60) })), 'bad-signature 401');
});

test('signed URLs bound to the client address', async () => {
  const p = policy({ signed: { publishSecrets: [], playSecrets: [NEW], bindIp: true } });
  const t = NOW / 1000;
  const q = signedQuery(NEW, 'play', t + 60, '203.0.113.9');
  assert.equal(await refusal(p, req({ action: 'play', ip: '203.0.113.9', query: q })), undefined);
  assert.equal(await refusal(p, req({ action: 'play', ip: '::ffff:203.0.113.9', query: q })), undefined, 'signed for the plain IPv4 form');
  assert.equal(await refusal(p, req({ action: 'play', ip: '203.0.113.10', query: q })), 'bad-signature 401');
});

test('the config maps onto the policy; nothing configured is an open policy', async () => {
  assert.equal(new AccessPolicy(accessOptionsOf(resolveConfig({}))).open, true);
  const o = accessOptionsOf(resolveConfig({ access: { playAllow: ['::1'], playSecrets: [NEW], signBindIp: true } }));
  assert.deepEqual(o.play, { allow: ['::1'], deny: [] });
  assert.deepEqual(o.signed, { publishSecrets: [], playSecrets: [NEW], bindIp: true });
  assert.equal(new AccessPolicy(o).open, false);
});

test("a hook reply allows only as SRS's does: 0 or a JSON object whose code is 0", () => {
  for (const ok of ['0', ' 0\n', '{"code":0}', '{"code":0,"data":{}}']) assert.equal(allows(ok), true, ok);
  for (const no of ['', '1', '{"code":1}', '{"code":"0"}', 'null', '[0]', 'ok', '00x']) assert.equal(allows(no), false, no);
});

test('one spelling per address: uWS full IPv6, dual-stack IPv4 in either form', () => {
  assert.equal(plainIp('0000:0000:0000:0000:0000:ffff:7f00:0001'), '127.0.0.1');
  assert.equal(plainIp('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(plainIp('::FFFF:10.1.2.3'), '10.1.2.3');
  assert.equal(plainIp('0000:0000:0000:0000:0000:0000:0000:0001'), '::1');
  assert.equal(plainIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(plainIp('192.0.2.1'), '192.0.2.1');
  assert.equal(plainIp(''), '');
});

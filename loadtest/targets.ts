/**
 * Where the load goes: the loopback guard (a load generator pointed at
 * someone else's server by mistake is an attack) and the player URLs.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { SluiceError } from '../src/core/errors.js';
import { parseRtmpUrl, type RtmpUrl } from '../src/rtmp/url.js';
import type { LoadtestOptions, PlayProtocol } from './options.js';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x (::ffff:127.0.0.1); false for anything else, names included. */
export function isLoopbackAddress(addr: string): boolean {
  const a = addr.replace(/^\[|\]$/g, '');
  const v = isIP(a);
  return v !== 0 && LOOPBACK.check(a, v === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Resolves `host` and says whether every address it has is loopback. A
 * name with one non-loopback address counts as remote: that is where the
 * connections could go.
 */
export async function resolvesToLoopback(host: string, resolve = defaultResolve): Promise<boolean> {
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h)) return isLoopbackAddress(h);
  let addrs: string[];
  try {
    addrs = await resolve(h);
  } catch {
    return false;
  }
  return addrs.length > 0 && addrs.every(isLoopbackAddress);
}

async function defaultResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

/** `{host}` `{app}` `{stream}` filled in (each URI-encoded but for host). */
export function fillTemplate(template: string, v: { host: string; app: string; stream: string }): string {
  const host = isIP(v.host) === 6 ? `[${v.host}]` : v.host;
  return template
    .replaceAll('{host}', host)
    .replaceAll('{app}', v.app.split('/').map(encodeURIComponent).join('/'))
    .replaceAll('{stream}', encodeURIComponent(v.stream));
}

/** The URL a player of `protocol` opens for `stream`: RTMP plays on the target itself. */
export function playUrl(o: Pick<LoadtestOptions, 'target' | 'playUrlTemplate'>, protocol: PlayProtocol, stream: string): string {
  if (protocol === 'rtmp') return o.target;
  const t = parseRtmpUrl(o.target);
  const url = fillTemplate(o.playUrlTemplate, { host: t.host, app: t.app, stream });
  if (protocol === 'ws-flv') return url.replace(/^http(s?):/i, 'ws$1:');
  return url.replace(/^ws(s?):/i, 'http$1:');
}

/** Every host this run would connect to. */
export function targetHosts(o: LoadtestOptions): string[] {
  const rtmp: RtmpUrl = parseRtmpUrl(o.target);
  const hosts = new Set([rtmp.host]);
  for (const p of o.playProtocols) {
    if (p !== 'rtmp') hosts.add(new URL(playUrl(o, p, 'x')).hostname.replace(/^\[|\]$/g, ''));
  }
  return [...hosts];
}

/** Throws unless every target host is loopback, or `allowRemote` says otherwise. */
export async function checkTargets(o: LoadtestOptions): Promise<void> {
  if (o.allowRemote) return;
  for (const host of targetHosts(o)) {
    if (!(await resolvesToLoopback(host))) {
      throw new SluiceError('ERR_CONFIG', `refusing non-loopback target ${host}: pass --allow-remote to load a server that is not on this machine`);
    }
  }
}

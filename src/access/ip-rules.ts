/**
 * CIDR allow/deny lists for one action, IPv4 and IPv6 (node's BlockList).
 * Deny wins; a non-empty allow list admits only what it lists. IPv4 peers
 * seen through a dual-stack socket (::ffff:a.b.c.d) are matched as IPv4,
 * so one rule covers both ways a client can arrive.
 */
import { BlockList, isIP } from 'node:net';
import { SluiceError } from '../core/errors.js';

export interface IpRuleLists {
  allow: string[];
  deny: string[];
}

export class IpRules {
  private readonly allow: BlockList | undefined;
  private readonly deny: BlockList | undefined;

  constructor(lists: IpRuleLists) {
    this.allow = lists.allow.length > 0 ? blockListOf(lists.allow) : undefined;
    this.deny = lists.deny.length > 0 ? blockListOf(lists.deny) : undefined;
  }

  /** Undefined when `ip` may go on; else why not. */
  refusal(ip: string): string | undefined {
    const [addr, family] = normalize(ip);
    if (!family) return 'unknown peer address';
    if (this.deny?.check(addr, family)) return `${addr} is denied`;
    if (this.allow && !this.allow.check(addr, family)) return `${addr} is not allowed`;
    return undefined;
  }
}

/** "10.0.0.0/8", "2001:db8::/32", or one address; throws ERR_CONFIG on anything else. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [address = '', bits, extra] = text.trim().split('/');
  const v = isIP(address);
  const family = v === 4 ? 'ipv4' : 'ipv6';
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (v === 0 || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
    throw new SluiceError('ERR_CONFIG', `"${text}" is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1/128)`);
  }
  return { address, prefix, family };
}

function blockListOf(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const { address, prefix, family } = parseCidr(c);
    list.addSubnet(address, prefix, family);
  }
  return list;
}

/**
 * One spelling per address: IPv6 compressed and lower-case (uWS prints all
 * eight groups, 0000:...:0001), an IPv4 peer of a dual-stack socket in dotted
 * form (::ffff:127.0.0.1 and ::ffff:7f00:1 are 127.0.0.1); anything else as given.
 */
export function plainIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const c = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(c);
  if (!m) return c;
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

function normalize(ip: string): [string, 'ipv4' | 'ipv6' | undefined] {
  const addr = plainIp(ip);
  const v = isIP(addr);
  return [addr, v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined];
}

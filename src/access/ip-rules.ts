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

/** The address a client has: IPv4 without its dual-stack ::ffff: prefix. */
export function plainIp(ip: string): string {
  return ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}

function normalize(ip: string): [string, 'ipv4' | 'ipv6' | undefined] {
  const addr = plainIp(ip);
  const v = isIP(addr);
  return [addr, v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined];
}

import { BlockList, isIP } from 'node:net';

/**
 * Which addresses outbound calls may connect to. `deny` wins; when `allow` is set, only addresses it
 * covers are allowed. The check runs on the address a connection really goes to (after DNS), so a
 * host name cannot be used to get around it.
 */
export interface EgressRules {
  /** CIDRs never connected to (EGRESS_DENY). */
  deny: readonly string[];
  /** When set, the only CIDRs connected to (EGRESS_ALLOW). */
  allow?: readonly string[];
}

/** Link-local ranges: the cloud metadata endpoints (169.254.169.254, fd00:ec2::254 is ULA and stays allowed). */
export const DEFAULT_EGRESS_DENY: readonly string[] = ['169.254.0.0/16', 'fe80::/10'];

interface Rule {
  cidr: string;
  list: BlockList;
}

/** `a.b.c.d/n` or `v6/n`; a bare address is a /32 or /128. Throws a message naming what is wrong. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [addr, bits, ...rest] = text.trim().split('/');
  const version = isIP(addr ?? '');
  if (rest.length > 0 || !version) throw new Error(`"${text}" is not a CIDR (e.g. 169.254.0.0/16 or fe80::/10)`);
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!/^\d+$/.test(bits ?? String(max)) || prefix > max)
    throw new Error(`"${text}": the prefix length must be 0..${max}`);
  return { address: addr!, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Expands an IPv6 address to its eight 16-bit groups (accepts an embedded dotted IPv4 tail). */
function ipv6Groups(address: string): number[] | null {
  let a = address.toLowerCase().replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const o = v4[1].split('.').map(Number);
    a = `${a.slice(0, -v4[1].length)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const halves = a.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...tail].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : null;
}

/**
 * The address as it is checked: an IPv4-mapped IPv6 address (`::ffff:169.254.169.254`, `::ffff:a9fe:a9fe`)
 * is the IPv4 address it maps to, so a v4 rule covers it. Other addresses are returned unchanged.
 */
export function canonicalAddress(address: string): { address: string; family: 'ipv4' | 'ipv6' } | null {
  const v = isIP(address.replace(/^\[|\]$/g, ''));
  const a = address.replace(/^\[|\]$/g, '');
  if (v === 4) return { address: a, family: 'ipv4' };
  if (v !== 6) return null;
  const g = ipv6Groups(a);
  if (g && g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)
    return { address: [g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff].join('.'), family: 'ipv4' };
  return { address: a, family: 'ipv6' };
}

export class EgressPolicy {
  private readonly deny: Rule[];
  private readonly allow: Rule[] | null;

  constructor(readonly rules: EgressRules) {
    this.deny = rules.deny.map(toRule);
    this.allow = rules.allow && rules.allow.length > 0 ? rules.allow.map(toRule) : null;
  }

  /** Null when `address` (an IP literal) may be connected to, else why not, naming the rule. */
  check(address: string): string | null {
    const c = canonicalAddress(address);
    if (!c) return `${address} is not an IP address`;
    const hit = this.deny.find((r) => r.list.check(c.address, c.family));
    if (hit) return `${address} is denied by EGRESS_DENY ${hit.cidr}`;
    if (this.allow && !this.allow.some((r) => r.list.check(c.address, c.family)))
      return `${address} is not in EGRESS_ALLOW ${this.allow.map((r) => r.cidr).join(',')}`;
    return null;
  }
}

function toRule(cidr: string): Rule {
  const p = parseCidr(cidr);
  const list = new BlockList();
  list.addSubnet(p.address, p.prefix, p.family);
  return { cidr: cidr.trim(), list };
}

import { canonicalAddress, EgressPolicy, parseCidr } from '../../../src/clients/http/egress-policy';
import { ConfigError, loadConfig } from '../../../src/config';

describe('parseCidr', () => {
  it('When given IPv4 and IPv6 CIDRs or bare addresses, then it returns address, prefix and family', () => {
    expect(parseCidr('169.254.0.0/16')).toEqual({ address: '169.254.0.0', prefix: 16, family: 'ipv4' });
    expect(parseCidr(' fe80::/10 ')).toEqual({ address: 'fe80::', prefix: 10, family: 'ipv6' });
    expect(parseCidr('10.1.2.3')).toEqual({ address: '10.1.2.3', prefix: 32, family: 'ipv4' });
    expect(parseCidr('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
  });

  it.each(['', 'metadata', '10.0.0.0/33', 'fe80::/129', '10.0.0.0/-1', '10.0.0.0/8/1', '10.0.0/8', '1.2.3.4/x'])(
    'When given "%s", then it throws a message naming the value',
    (text) => {
      expect(() => parseCidr(text)).toThrow(/CIDR|prefix length/);
    },
  );
});

describe('canonicalAddress', () => {
  it('When an address is IPv4-mapped IPv6 (dotted or hex), then it is checked as the IPv4 address', () => {
    expect(canonicalAddress('::ffff:169.254.169.254')).toEqual({ address: '169.254.169.254', family: 'ipv4' });
    expect(canonicalAddress('::FFFF:a9fe:a9fe')).toEqual({ address: '169.254.169.254', family: 'ipv4' });
    expect(canonicalAddress('[0:0:0:0:0:ffff:7f00:1]')).toEqual({ address: '127.0.0.1', family: 'ipv4' });
  });

  it('When an address is plain IPv6 or not an address, then it is kept or rejected', () => {
    expect(canonicalAddress('fe80::1')).toEqual({ address: 'fe80::1', family: 'ipv6' });
    expect(canonicalAddress('::1')).toEqual({ address: '::1', family: 'ipv6' });
    expect(canonicalAddress('example.com')).toBeNull();
  });
});

describe('EgressPolicy', () => {
  const defaults = new EgressPolicy({ deny: ['169.254.0.0/16', 'fe80::/10'] });

  it('When the default rules meet the cloud metadata addresses, then they are denied naming the rule', () => {
    expect(defaults.check('169.254.169.254')).toBe('169.254.169.254 is denied by EGRESS_DENY 169.254.0.0/16');
    expect(defaults.check('::ffff:169.254.169.254')).toMatch(/denied by EGRESS_DENY 169\.254\.0\.0\/16/);
    expect(defaults.check('fe80::a9fe:a9fe')).toBe('fe80::a9fe:a9fe is denied by EGRESS_DENY fe80::/10');
    expect(defaults.check('febf:ffff::1')).toMatch(/fe80::\/10/);
  });

  it('When the default rules meet private, loopback and public addresses, then they are allowed', () => {
    for (const a of ['192.168.10.118', '10.0.0.5', '172.16.3.4', '127.0.0.1', '::1', 'fd00:ec2::254', '8.8.8.8'])
      expect(defaults.check(a)).toBeNull();
    expect(defaults.check('169.253.255.255')).toBeNull();
    expect(defaults.check('fec0::1')).toBeNull();
  });

  it('When EGRESS_ALLOW is set, then only its ranges are allowed and deny still wins inside them', () => {
    const p = new EgressPolicy({ deny: ['10.0.0.66/32'], allow: ['10.0.0.0/8', '2001:db8::/32'] });
    expect(p.check('10.1.2.3')).toBeNull();
    expect(p.check('2001:db8::7')).toBeNull();
    expect(p.check('::ffff:10.9.9.9')).toBeNull();
    expect(p.check('192.168.1.1')).toBe('192.168.1.1 is not in EGRESS_ALLOW 10.0.0.0/8,2001:db8::/32');
    expect(p.check('10.0.0.66')).toBe('10.0.0.66 is denied by EGRESS_DENY 10.0.0.66/32');
  });

  it('When the value is not an IP literal, then it is refused', () => {
    expect(defaults.check('localhost')).toBe('localhost is not an IP address');
  });
});

describe('egress configuration', () => {
  it('When nothing is set, then link-local v4 and v6 are denied and no allow list applies', () => {
    const c = loadConfig({});
    expect(c.outbound.deny).toEqual(['169.254.0.0/16', 'fe80::/10']);
    expect(c.outbound.allow).toBeUndefined();
    expect(c.outbound.maxResponseBytes).toBe(64 * 1024 * 1024);
  });

  it('When EGRESS_DENY is "none" and EGRESS_ALLOW lists ranges, then they are taken as given', () => {
    const c = loadConfig({ EGRESS_DENY: 'none', EGRESS_ALLOW: '10.0.0.0/8, fd00::/8' });
    expect(c.outbound.deny).toEqual([]);
    expect(c.outbound.allow).toEqual(['10.0.0.0/8', 'fd00::/8']);
  });

  it('When a CIDR is malformed, then loading fails naming the key and the value', () => {
    expect(() => loadConfig({ EGRESS_DENY: '169.254.0.0/16,metadata' })).toThrow(ConfigError);
    expect(() => loadConfig({ EGRESS_ALLOW: '10.0.0.0/40' })).toThrow(/EGRESS_ALLOW.*10\.0\.0\.0\/40/s);
  });
});

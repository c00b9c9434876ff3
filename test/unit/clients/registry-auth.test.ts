import { nextLink, transportError } from '../../../src/clients/registry/registry.client';
import { parseChallenge, realmMayReceiveCredentials, TokenCache } from '../../../src/clients/registry/registry.auth';
import { RegistryError } from '../../../src/errors/app-error';

describe('parseChallenge', () => {
  it('When a bearer challenge has quoted commas and several scopes, then every parameter is read whole', () => {
    const c = parseChallenge(
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope"',
    );
    expect(c).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example.com/token',
        service: 'registry.example.com',
        scope: 'repository:a/b:pull,push repository:c:pull',
        error: 'insufficient_scope',
      },
    });
  });

  it('When parameters are spaced, unquoted or escaped, then they are still parsed', () => {
    expect(parseChallenge('Basic realm="a \\"quoted\\" realm" , charset=UTF-8')).toEqual({
      scheme: 'basic',
      params: { realm: 'a "quoted" realm', charset: 'UTF-8' },
    });
  });

  it('When the header is empty or missing, then null', () => {
    expect(parseChallenge(undefined)).toBeNull();
    expect(parseChallenge('')).toBeNull();
  });
});

describe('nextLink', () => {
  it('When the Link is relative, then it is resolved against the request URL', () => {
    expect(nextLink('</v2/_catalog?last=b&n=2>; rel="next"', 'http://127.0.0.1:5000/v2/_catalog?n=2')).toBe(
      'http://127.0.0.1:5000/v2/_catalog?last=b&n=2',
    );
  });

  it('When there is no next relation, then undefined', () => {
    expect(nextLink('</x>; rel="prev"', 'http://h/')).toBeUndefined();
    expect(nextLink(undefined, 'http://h/')).toBeUndefined();
  });
});

describe('TokenCache', () => {
  it('When a token has less validity left than asked, then it is not returned', () => {
    const cache = new TokenCache();
    const key = TokenCache.keyOf('r', 's', ['b', 'a', 'a']);
    expect(key).toBe(TokenCache.keyOf('r', 's', ['a', 'b']));
    cache.set(key, 't', 60, 0);
    expect(cache.get(key, 10_000, 0)?.token).toBe('t');
    expect(cache.get(key, 10_000, 55_000)).toBeUndefined();
  });
});

describe('transportError', () => {
  const rows: Array<[string, Record<string, unknown>, string, RegExp]> = [
    [
      'ENOTFOUND',
      { code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND reg.invalid' },
      'http://reg.invalid:5000/v2/',
      /cannot resolve host reg\.invalid$/,
    ],
    ['ECONNREFUSED', { code: 'ECONNREFUSED', message: 'x' }, 'http://h:1/v2/', /connection refused by h:1/],
    [
      'ECONNABORTED',
      { code: 'ECONNABORTED', message: 'timeout of 5ms exceeded' },
      'http://h:1/v2/',
      /within 5 ms \(timeout\)/,
    ],
    [
      'a certificate error',
      { code: 'CERT_HAS_EXPIRED', message: 'certificate has expired' },
      'https://h:1/',
      /TLS handshake failed: certificate has expired \(self-signed\? set skipTlsVerify\)/,
    ],
  ];
  it.each(rows)('When the transport fails with %s, then the RegistryError says why', (_n, err, url, why) => {
    const e = transportError(Object.assign(new Error(String(err.message)), err), url, 'h:1', 5);
    expect(e).toBeInstanceOf(RegistryError);
    expect(e.code).toBe(5002);
    expect(e.message).toMatch(why);
  });
});

describe('realmMayReceiveCredentials', () => {
  const base = new URL('http://reg.example:5000');
  it.each([
    ['https://auth.example/token', true],
    ['http://reg.example:5001/token', true],
    ['http://auth.example/token', false],
    ['http://127.0.0.1:5000/token', false],
  ])('When the realm of an http registry is %s, then credentials may go there: %s', (realm, expected) => {
    expect(realmMayReceiveCredentials(new URL(realm), base)).toBe(expected);
  });

  it('When the registry is https and its realm on the same host is http, then no credentials go there', () => {
    expect(realmMayReceiveCredentials(new URL('http://reg.example/token'), new URL('https://reg.example:443'))).toBe(
      false,
    );
  });
});

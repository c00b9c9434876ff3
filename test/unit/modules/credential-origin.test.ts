import {
  addedOrigins,
  apiOrigin,
  passwordOrigins,
  registryOrigin,
  tokenOrigins,
} from '../../../src/modules/registries/credential-origin';

describe('credential origins of a registry', () => {
  const reg = { repository: 'Reg.Example', port: 5000, isHttps: true };

  it('When the apiUrl only spells the default port or another path, then its origin is the same', () => {
    const a = { ...reg, kind: 'harbor', options: { apiUrl: 'https://api.example/api' } };
    const b = { ...reg, kind: 'harbor', options: { apiUrl: 'https://API.example:443/other' } };
    expect(apiOrigin(a)).toBe('https://api.example:443');
    expect(addedOrigins(passwordOrigins(a), passwordOrigins(b))).toEqual([]);
  });

  it('When the kind does not send credentials to apiUrl (dockerhub, registry), then only the registry origin counts', () => {
    const hub = { ...reg, kind: 'dockerhub', options: { apiUrl: 'https://elsewhere.example' } };
    expect(passwordOrigins(hub)).toEqual(['https://reg.example:5000']);
    expect(tokenOrigins(hub)).toEqual([]);
  });

  it('When the host is IPv6 or TLS checks are off, then the origin says so', () => {
    expect(registryOrigin({ repository: '::1', port: 5000, isHttps: false })).toBe('http://[::1]:5000');
    expect(registryOrigin({ ...reg, skipTlsVerify: true })).toBe('https://reg.example:5000 (TLS unverified)');
  });

  it('When a registry drops its apiUrl (credentials go to fewer places), then nothing is added', () => {
    const before = passwordOrigins({ ...reg, kind: 'bkrepo', options: { apiUrl: 'http://api:8080' } });
    const after = passwordOrigins({ ...reg, kind: 'bkrepo', options: {} });
    expect(addedOrigins(before, after)).toEqual([]);
  });
});

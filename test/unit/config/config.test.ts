import { ConfigError, loadConfig } from '../../../src/config';

describe('loadConfig', () => {
  it('When nothing is set, then the defaults apply (port 4000, embedded database)', () => {
    const c = loadConfig({});
    expect(c.port).toBe(4000);
    expect(c.mongo.uri).toBeUndefined();
    expect(c.dataDir).toBe('./data');
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.mongo)).toBe(true);
  });

  it('When PORT is not a number, then the error names PORT', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
  });

  it('When MONGODB_URI has the wrong scheme, then the error names MONGODB_URI', () => {
    expect(() => loadConfig({ MONGODB_URI: 'http://db:27017' })).toThrow(/MONGODB_URI: must start with mongodb:\/\//);
  });

  it('When LOG_LEVEL is unknown, then the error names LOG_LEVEL', () => {
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });

  it('When a key is set to an empty string, then it counts as not set', () => {
    expect(loadConfig({ PORT: '' }).port).toBe(4000);
  });

  it('When lists are given as commas, then they are split and trimmed', () => {
    expect(loadConfig({ API_TOKENS: ' a , b,,' }).apiTokens).toEqual(['a', 'b']);
  });
});

describe('loadConfig: Clair', () => {
  it('When no Clair key is set, then v4 on 127.0.0.1:6060 with 30 s / 10 min timeouts and no PSK', () => {
    expect(loadConfig({}).clair).toEqual({
      url: 'http://127.0.0.1:6060',
      version: 'v4',
      timeoutMs: 30000,
      indexTimeoutMs: 600000,
      psk: undefined,
    });
  });

  it('When CLAIR_PSK is set, then the PSK carries the issuer (default vulnscan) and a trailing slash is dropped', () => {
    const c = loadConfig({ CLAIR_URL: 'http://clair:6060/', CLAIR_PSK: 'c2VjcmV0', CLAIR_VERSION: 'v2' }).clair;
    expect(c.url).toBe('http://clair:6060');
    expect(c.version).toBe('v2');
    expect(c.psk).toEqual({ key: 'c2VjcmV0', issuer: 'vulnscan' });
  });

  it('When Clair keys are invalid, then the error names each of them', () => {
    const load = () => loadConfig({ CLAIR_URL: 'ftp://clair', CLAIR_VERSION: 'v3', CLAIR_PSK: 'not base64!' });
    expect(load).toThrow(/CLAIR_URL: must be an http\(s\) URL/);
    expect(load).toThrow(/CLAIR_VERSION/);
    expect(load).toThrow(/CLAIR_PSK: must be base64/);
  });
});

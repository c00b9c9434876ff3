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

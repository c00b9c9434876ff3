import { createImageLister, RegistryKind, validateKindOptions } from '../../../../src/clients/registry/vendors';
import { retryAfterMs } from '../../../../src/clients/registry/vendors/vendor-http';

const target = { host: 'registry.example.com', port: 443, isHttps: true };

function messageOf(fn: () => unknown): { code?: number; message?: string } {
  try {
    fn();
  } catch (e) {
    return e as { code: number; message: string };
  }
  throw new Error('expected a throw');
}

describe('validateKindOptions', () => {
  it.each([
    ['bkrepo', { repoName: 'docker-local' }, 'options.projectId: required for kind bkrepo'],
    ['bkrepo', { projectId: 'p' }, 'options.repoName: required for kind bkrepo'],
    ['swr', { namespace: 'team' }, 'options.apiUrl: required for kind swr'],
    ['swr', { apiUrl: 'https://swr-api.example.com' }, 'options.namespace: required for kind swr'],
    ['dockerhub', {}, 'options.namespaces: required for kind dockerhub'],
  ] as const)('When kind %s lacks a required field, then a 5003 names it', (kind, options, message) => {
    const e = messageOf(() => validateKindOptions(kind, options));

    expect(e.code).toBe(5003);
    expect(e.message).toBe(message);
  });

  it.each([
    ['dockerhub', { namespaces: [] }, /^options\.namespaces: /],
    ['swr', { apiUrl: 'ftp://x', namespace: 'n' }, /^options\.apiUrl: /],
    ['swr', { apiUrl: 'https://x', namespace: 'n', category: 'games' }, /^options\.category: /],
    ['harbor', { projects: 'library' }, /^options\.projects: /],
    ['harbor', { pageSize: 500 }, /^options\.pageSize: /],
    ['harbor', { project: ['typo'] }, /^options: .*project/],
    ['registry', { anything: 1 }, /^options: .*anything/],
  ] as const)('When kind %s gets %j, then a 5003 names the field', (kind, options, message) => {
    const e = messageOf(() => validateKindOptions(kind, options));

    expect(e.code).toBe(5003);
    expect(e.message).toMatch(message);
  });

  it('When the options are valid, then they come back parsed', () => {
    expect(validateKindOptions('bkrepo', { projectId: 'p', repoName: 'r' })).toEqual({ projectId: 'p', repoName: 'r' });
    expect(validateKindOptions('harbor', undefined)).toEqual({});
    expect(validateKindOptions('registry', {})).toEqual({});
  });

  it('When the kind is unknown, then a 5003 lists the kinds', () => {
    const e = messageOf(() => validateKindOptions('quay' as RegistryKind, {}));

    expect(e.code).toBe(5003);
    expect(e.message).toBe('kind: must be one of registry, harbor, swr, bkrepo, dockerhub');
  });
});

describe('createImageLister', () => {
  it('When the kind is registry, then there is no lister (the v2 client lists _catalog)', () => {
    expect(createImageLister({ kind: 'registry', options: {}, target, timeoutMs: 1000 })).toBeNull();
  });

  it.each(['harbor', 'swr', 'bkrepo', 'dockerhub'] as const)(
    'When kind %s has valid options, then a lister comes back',
    (kind) => {
      const options = {
        harbor: {},
        swr: { apiUrl: 'https://swr-api.example.com', namespace: 'team', token: 't' },
        bkrepo: { projectId: 'p', repoName: 'r' },
        dockerhub: { namespaces: ['library'] },
      }[kind];

      expect(createImageLister({ kind, options, target, timeoutMs: 1000 })).toEqual({
        listImages: expect.any(Function),
      });
    },
  );

  it('When the options are invalid, then creating the lister is a 5003', () => {
    const e = messageOf(() => createImageLister({ kind: 'bkrepo', options: {}, target, timeoutMs: 1000 }));

    expect(e.code).toBe(5003);
  });
});

describe('retryAfterMs', () => {
  it('When Retry-After is seconds or an HTTP date, then it becomes milliseconds', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');

    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

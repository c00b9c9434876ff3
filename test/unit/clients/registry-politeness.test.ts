import { createRegistryClient, retryAfterMs } from '../../../src/clients/registry/registry.client';
import { RegistryError } from '../../../src/errors/app-error';
import { testCtx } from '../../helpers/fakes/ctx';
import { collect, type FakeHttpServer, sendJson, startFakeHttpServer } from '../../helpers/fakes/fake-http-server';

/** A registry that rate-limits: the first `limited` calls of each path get 429 with `retryAfter`. */
async function limitedRegistry(limited: number, retryAfter: string): Promise<FakeHttpServer & { at: number[] }> {
  const seen = new Map<string, number>();
  const at: number[] = [];
  const server = await startFakeHttpServer((_req, res, url) => {
    at.push(Date.now());
    const n = (seen.get(url.pathname) ?? 0) + 1;
    seen.set(url.pathname, n);
    if (n <= limited)
      return sendJson(
        res,
        429,
        { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] },
        { 'Retry-After': retryAfter },
      );
    if (url.pathname === '/v2/') return sendJson(res, 200, {}, { 'Docker-Distribution-API-Version': 'registry/2.0' });
    if (url.pathname === '/v2/_catalog') return sendJson(res, 200, { repositories: ['library/debian'] });
    return sendJson(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'unknown' }] });
  });
  return Object.assign(server, { at });
}

const target = (port: number) => ({ host: '127.0.0.1', port, isHttps: false });

describe('registry client politeness', () => {
  let server: (FakeHttpServer & { at: number[] }) | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it('When the registry answers 429 with Retry-After: 1, then the call is retried after at least that delay and succeeds', async () => {
    server = await limitedRegistry(1, '1');
    const client = createRegistryClient(target(server.port), { timeoutMs: 5000 });

    const repos = await collect(client.listRepositories(testCtx()));

    expect(repos).toEqual(['library/debian']);
    expect(server.requests.map((r) => r.url)).toEqual(['/v2/_catalog?n=100', '/v2/_catalog?n=100']);
    // The delay is the registry's, not ours: the retry came no sooner than Retry-After said.
    expect(server.at[1]! - server.at[0]!).toBeGreaterThanOrEqual(990);
  });

  it('When the registry keeps answering 429, then the client gives up after its retries with a RegistryError, never waiting longer than its bound', async () => {
    server = await limitedRegistry(100, '3600');
    const client = createRegistryClient(target(server.port), { timeoutMs: 5000, retries429: 2, maxRetryAfterMs: 20 });

    const err = await client.ping(testCtx()).then(
      () => null,
      (e: unknown) => e,
    );

    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(/answered HTTP 429 on \/v2\//);
    expect(server.requests).toHaveLength(3);
  });

  it('When a request rate is set, then consecutive calls are spaced by at least 1/rate', async () => {
    server = await limitedRegistry(0, '0');
    const client = createRegistryClient(target(server.port), { timeoutMs: 5000, maxRequestsPerSecond: 20 });

    const started = Date.now();
    await Promise.all([1, 2, 3, 4, 5, 6].map(() => client.ping(testCtx())));

    expect(server.at).toHaveLength(6);
    // Six calls at 20 per second: the first goes at once, the sixth waits for its slot five 50 ms
    // intervals later. Measured from the start rather than from the first arrival, whose new connection
    // can make it land late; load only delays, so this lower bound cannot flake (1 ms: timer rounding).
    expect(server.at[5]! - started).toBeGreaterThanOrEqual(249);
  });

  it('When Retry-After is an HTTP date or absent, then its delay is read or left to the backoff', () => {
    const now = Date.parse('2026-03-01T00:00:00Z');
    expect(retryAfterMs('Sun, 01 Mar 2026 00:00:07 GMT', now)).toBe(7000);
    expect(retryAfterMs(' 12 ', now)).toBe(12_000);
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});

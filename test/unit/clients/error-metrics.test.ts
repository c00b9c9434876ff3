import { Counter, Registry } from 'prom-client';
import { countErrors, errorReason } from '../../../src/clients/error-metrics';
import { createClairClient } from '../../../src/clients/clair';
import { createRegistryClient } from '../../../src/clients/registry/registry.client';
import { NotFoundError, RegistryError, ScannerError } from '../../../src/errors/app-error';
import { createLogger } from '../../../src/logger';
import { clairErrorsCounter, registryErrorsCounter } from '../../../src/metrics';

const ctx = { log: createLogger('silent') };

function freshCounter() {
  const registry = new Registry();
  const counter = new Counter({
    name: 'test_errors_total',
    help: 'x',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const value = async (reason: string) =>
    (await counter.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  return { counter, value };
}

const isRegistryError = (e: unknown): e is RegistryError => e instanceof RegistryError;

describe('countErrors', () => {
  it('When a wrapped method rejects with a counted error, then the reason is counted and the error passes unchanged', async () => {
    const { counter, value } = freshCounter();
    const boom = new RegistryError('registry h:1: cannot reach it: connection refused');
    const client = countErrors({ call: async () => Promise.reject(boom) }, counter, isRegistryError);

    await expect(client.call()).rejects.toBe(boom);
    expect(await value('network')).toBe(1);
  });

  it('When an error is not one the predicate counts (a 404), then nothing is counted', async () => {
    const { counter, value } = freshCounter();
    const client = countErrors(
      { call: async () => Promise.reject(new NotFoundError('tag gone')) },
      counter,
      isRegistryError,
    );

    await expect(client.call()).rejects.toBeInstanceOf(NotFoundError);
    expect((await counter.get()).values.length).toBe(0);
    expect(await value('status')).toBe(0);
  });

  it('When iteration of a returned async iterable fails, then the error is counted and rethrown', async () => {
    const { counter, value } = freshCounter();
    const client = countErrors(
      {
        list: () => ({
          async *[Symbol.asyncIterator]() {
            yield 'a';
            throw new RegistryError('registry h:1: catalog is not JSON');
          },
        }),
      },
      counter,
      isRegistryError,
    );
    const seen: string[] = [];

    await expect(
      (async () => {
        for await (const x of client.list()) seen.push(x as string);
      })(),
    ).rejects.toThrow('not JSON');
    expect(seen).toEqual(['a']);
    expect(await value('parse')).toBe(1);
  });

  it('When the client has plain properties and successful calls, then they pass through untouched', async () => {
    const { counter } = freshCounter();
    const client = countErrors({ version: 'v4', ok: async (n: number) => n + 1 }, counter, isRegistryError);

    expect(client.version).toBe('v4');
    await expect(client.ok(1)).resolves.toBe(2);
    expect((await counter.get()).values.length).toBe(0);
  });

  it.each([
    [new ScannerError('Clair at x did not answer within 5 ms', { httpStatus: 504 }), 'timeout'],
    [new RegistryError('registry h:1: no answer within 100 ms (timeout)'), 'timeout'],
    [new RegistryError('registry h:1: the host name does not resolve'), 'network'],
    [new RegistryError('registry h:1: refused the credentials (HTTP 401)'), 'auth'],
    [new ScannerError('Clair at x sent an unparseable reply to y'), 'parse'],
    [new RegistryError('registry h:1: manifest answered HTTP 500'), 'status'],
  ])('When the error is "%s", then its reason is %s', (err, reason) => {
    expect(errorReason(err)).toBe(reason);
  });
});

describe('client error metrics', () => {
  const valueOf = async (c: typeof registryErrorsCounter, reason: string) =>
    (await c.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

  it('When a registry on a closed port is pinged, then vulnscan_registry_errors_total{reason="network"} grows', async () => {
    const before = await valueOf(registryErrorsCounter, 'network');
    const client = createRegistryClient(
      { host: '127.0.0.1', port: 1, isHttps: false, skipTlsVerify: false },
      { timeoutMs: 2000 },
    );

    await expect(client.ping(ctx)).rejects.toBeInstanceOf(RegistryError);
    expect(await valueOf(registryErrorsCounter, 'network')).toBe(before + 1);
  });

  it('When Clair on a closed port is asked for its state, then vulnscan_clair_errors_total{reason="network"} grows', async () => {
    const before = await valueOf(clairErrorsCounter, 'network');
    const clair = createClairClient({
      version: 'v4',
      baseUrl: 'http://127.0.0.1:1',
      timeoutMs: 2000,
      indexTimeoutMs: 2000,
    });

    await expect(clair.indexState!(ctx)).rejects.toBeInstanceOf(ScannerError);
    expect(await valueOf(clairErrorsCounter, 'network')).toBe(before + 1);
  });
});

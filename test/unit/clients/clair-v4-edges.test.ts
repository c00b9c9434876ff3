import { createHash } from 'node:crypto';
import { createClairClient, type ClairClientOptions, type ScanInput } from '../../../src/clients/clair';
import { ScannerError } from '../../../src/errors/app-error';
import { createLogger } from '../../../src/logger';
import { startFakeHttp, type FakeHttp, type FakeReply, type RecordedRequest } from '../../helpers/fake-http';

/*
 * Clair v4 answers that a real Clair cannot be made to give on demand (429, 202 then 200, 401,
 * garbage, a hang). Everything else is tested against the real Clair in test/e2e.
 */

const ctx = { log: createLogger('silent'), requestId: 'req-1' };
const d = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const input: ScanInput = {
  manifestDigest: d('m'),
  layers: [{ digest: d('l'), uri: 'http://127.0.0.1:5000/v2/a/blobs/x', headers: { Authorization: 'Basic abc' } }],
};
const INDEXED: FakeReply = {
  status: 201,
  body: { manifest_hash: input.manifestDigest, state: 'IndexFinished', success: true, err: '' },
};
const REPORT: FakeReply = {
  status: 200,
  // Clair v4.9 really sends the vulnerability report with this (wrong) type.
  headers: { 'content-type': 'application/vnd.clair.index_report.v1+json' },
  body: {
    manifest_hash: input.manifestDigest,
    packages: { '1': { id: '1', name: 'zlib1g', version: '1:1.2.13.dfsg-1', kind: 'binary' } },
    distributions: { '1': { id: '1', did: 'debian', version_id: '12' } },
    environments: { '1': [{ package_db: 'var/lib/dpkg/status', distribution_id: '1' }] },
    vulnerabilities: {
      '5': {
        id: '5',
        name: 'CVE-2023-45853',
        links: 'https://t/CVE-2023-45853',
        normalized_severity: 'Critical',
        fixed_in_version: '',
      },
    },
    package_vulnerabilities: { '1': ['5'] },
  },
};

const route = (req: RecordedRequest) =>
  req.method === 'POST'
    ? 'index'
    : req.url.startsWith('/matcher/')
      ? 'report'
      : req.url.endsWith('index_state')
        ? 'state'
        : 'indexReport';

describe('Clair v4 client: edge answers (fake server)', () => {
  let fake: FakeHttp;
  const client = (over: Partial<ClairClientOptions> = {}) =>
    createClairClient({
      version: 'v4',
      baseUrl: fake.url,
      timeoutMs: 2000,
      indexTimeoutMs: 2000,
      retry: { baseDelayMs: 10, attempts: 3, reportAttempts: 3 },
      ...over,
    });

  beforeEach(async () => {
    fake = await startFakeHttp();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('When indexing, then layer headers go out as arrays and the request id is forwarded', async () => {
    fake.handle((req) => (route(req) === 'index' ? INDEXED : REPORT));

    await client().scan(input, ctx);

    expect(JSON.parse(fake.requests[0]!.body)).toEqual({
      hash: input.manifestDigest,
      layers: [{ hash: input.layers[0]!.digest, uri: input.layers[0]!.uri, headers: { Authorization: ['Basic abc'] } }],
    });
    expect(fake.requests[0]!.headers['x-request-id']).toBe('req-1');
    expect(fake.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('When Clair answers 429 with Retry-After, then the client waits that long and retries', async () => {
    fake.handle((req, n) =>
      n === 1
        ? { status: 429, headers: { 'retry-after': '1' }, body: { code: 'too-many-requests' } }
        : route(req) === 'index'
          ? INDEXED
          : REPORT,
    );
    const started = Date.now();

    const report = await client().scan(input, ctx);

    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(report.findings.map((f) => f.cveId)).toEqual(['CVE-2023-45853']);
    expect(fake.requests.map(route)).toEqual(['index', 'index', 'report']);
  });

  it('When Clair keeps answering 429, then the scan fails after the bounded tries', async () => {
    fake.handle(() => ({ status: 429, body: { code: 'too-many-requests', message: 'slow down' } }));

    const err = await client()
      .scan(input, ctx)
      .catch((e: unknown) => e);

    expect((err as ScannerError).message).toMatch(/still busy \(429 Too Many Requests\) after 3 tries/);
    expect(fake.requests).toHaveLength(3);
  });

  it('When the matcher answers 202 first, then the client retries and returns the 200 report', async () => {
    let reports = 0;
    fake.handle((req) => (route(req) === 'index' ? INDEXED : ++reports === 1 ? { status: 202 } : REPORT));

    const report = await client().scan(input, ctx);

    expect(report).toMatchObject({ namespace: 'debian:12', packages: 1 });
    expect(reports).toBe(2);
  });

  it('When the matcher keeps answering 202, then the error says Clair has no vulnerability data yet', async () => {
    fake.handle((req) => (route(req) === 'index' ? INDEXED : { status: 202 }));

    const err = await client()
      .scan(input, ctx)
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ScannerError);
    expect((err as ScannerError).message).toMatch(
      /^Clair has no vulnerability data yet \(updaters still running or nothing imported\)/,
    );
    expect(fake.requests.filter((r) => route(r) === 'report')).toHaveLength(3);
  });

  it('When the matcher answers 404, then the error carries the index report’s err', async () => {
    fake.handle((req) =>
      route(req) === 'index'
        ? INDEXED
        : route(req) === 'report'
          ? { status: 404, body: { code: 'not-found', message: 'index report not found' } }
          : {
              status: 200,
              body: {
                manifest_hash: input.manifestDigest,
                state: 'IndexError',
                success: false,
                err: 'fetcher: 404 Not Found',
              },
            },
    );

    const err = await client()
      .scan(input, ctx)
      .catch((e: unknown) => e);

    expect((err as ScannerError).message).toBe(
      `Clair has no vulnerability report for ${input.manifestDigest}: indexing failed: fetcher: 404 Not Found`,
    );
  });

  it('When indexing is refused with 400, then Clair’s message is in the error', async () => {
    fake.handle(() => ({ status: 400, body: { code: 'bad-request', message: 'bogus manifest' } }));

    const err = await client()
      .scan(input, ctx)
      .catch((e: unknown) => e);

    expect((err as ScannerError).message).toBe(`Clair refused to index image ${input.manifestDigest}: bogus manifest`);
  });

  it('When a PSK is configured, then every call carries a Bearer JWT; a 401 names CLAIR_PSK', async () => {
    fake.handle(() => ({ status: 401 }));

    const err = await client({ psk: { key: 'c2VjcmV0', issuer: 'vulnscan' } }).indexState!(ctx).catch(
      (e: unknown) => e,
    );

    expect(fake.requests[0]!.headers.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect((err as ScannerError).code).toBe(5001);
    expect((err as ScannerError).message).toMatch(/401 Unauthorized.*check CLAIR_PSK and CLAIR_PSK_ISSUER/);
  });

  it('When the reply is not JSON, then the error says the reply is unparseable', async () => {
    fake.handle(() => ({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>proxy</html>' }));

    const err = await client().report!(input.manifestDigest, ctx).catch((e: unknown) => e);

    expect((err as ScannerError).message).toMatch(/sent an unparseable reply .* is CLAIR_URL a Clair v4 server\?$/);
  });

  it('When the JSON lacks a field the client needs, then the error names the field', async () => {
    fake.handle(() => ({ status: 200, body: { nope: true } }));

    const err = await client().indexState!(ctx).catch((e: unknown) => e);

    expect((err as ScannerError).message).toMatch(/unexpected reply to read the indexer state \(HTTP 200\): state:/);
  });

  it('When Clair does not answer in time, then the error is a 5001 with HTTP 504', async () => {
    fake.handle(() => ({ status: 200, body: { state: 'x' }, delayMs: 1000 }));

    const err = await client({ timeoutMs: 200 }).indexState!(ctx).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ScannerError);
    expect((err as ScannerError).httpStatus).toBe(504);
    expect((err as ScannerError).message).toMatch(/did not answer within 200 ms to read the indexer state/);
  });

  it('When the host name does not resolve, then the error says DNS and CLAIR_URL', async () => {
    const err = await client({ baseUrl: 'http://clair.invalid:6060' }).indexState!(ctx).catch((e: unknown) => e);

    expect((err as ScannerError).message).toMatch(
      /^cannot reach Clair at http:\/\/clair\.invalid:6060: the host name does not resolve \(DNS E\w+\) — check CLAIR_URL$/,
    );
  });
});

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createImageLister, type ImageLister } from '../../../../src/clients/registry/vendors';
import { testCtx } from '../../../helpers/fakes/ctx';
import {
  basicCredentials,
  collect,
  type FakeHttpServer,
  sendJson,
  startFakeHttpServer,
} from '../../../helpers/fakes/fake-http-server';

/**
 * A fake bk-repo implementing docs/apidoc/package/package.md (seed 004): the package page and version
 * page APIs under /repository/api, the `{code, message, data, traceId}` envelope with
 * `{pageNumber, pageSize, totalRecords, totalPages, records}` pages, Basic auth. pageNumber 0 and 1
 * both mean the first page, as bk-repo normalises them; the seed's examples use 0.
 */
interface Pkg {
  key: string;
  type: string;
  versions: string[];
}

const USER = 'admin';
const PASS = 'password';

function envelope(res: ServerResponse, status: number, code: number, message: string | null, data: unknown): void {
  sendJson(res, status, { code, message, data, traceId: 'trace-1' });
}

function pageOf<T>(res: ServerResponse, url: URL, items: T[]): void {
  const pn = url.searchParams.get('pageNumber');
  const ps = url.searchParams.get('pageSize');
  if ((pn !== null && !/^\d+$/.test(pn)) || (ps !== null && !/^\d+$/.test(ps)))
    return envelope(res, 400, 250002, 'parameter pageNumber/pageSize is invalid', null);
  const pageNumber = Math.max(1, Number(pn ?? 1));
  const pageSize = Number(ps ?? 20) || 20;
  const records = items.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
  envelope(res, 200, 0, null, {
    pageNumber,
    pageSize,
    totalRecords: items.length,
    totalPages: Math.ceil(items.length / pageSize),
    records,
  });
}

function fakeBkrepo(projectId: string, repoName: string, packages: Pkg[]) {
  return (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const creds = basicCredentials(req);
    if (!creds || creds.user !== USER || creds.pass !== PASS)
      return envelope(res, 401, 250101, 'Authorization value is invalid', null);
    const m = /^\/repository\/api\/(package|version)\/page\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (!m) return envelope(res, 404, 250104, `resource not found: ${url.pathname}`, null);
    if (decodeURIComponent(m[2]!) !== projectId || decodeURIComponent(m[3]!) !== repoName)
      return envelope(res, 404, 251012, `repository [${decodeURIComponent(m[3]!)}] not found`, null);
    if (m[1] === 'package') {
      const prefix = url.searchParams.get('packageName') ?? '';
      const list = packages
        .filter((p) => p.key.split('://')[1]!.startsWith(prefix))
        .map((p) => ({
          projectId,
          repoName,
          name: p.key.split('://')[1],
          key: p.key,
          type: p.type,
          latest: p.versions[0] ?? null,
          versions: p.versions.length,
          downloads: 0,
          extension: {},
          historyVersion: [],
        }));
      return pageOf(res, url, list);
    }
    const key = url.searchParams.get('packageKey');
    const pkg = packages.find((p) => p.key === key);
    if (!pkg) return envelope(res, 404, 251023, `package [${key}] not found`, null);
    return pageOf(
      res,
      url,
      pkg.versions.map((name) => ({ name, size: 1024, downloads: 0, stageTag: [], metadata: {} })),
    );
  };
}

const PACKAGES: Pkg[] = [
  { key: 'docker://nginx', type: 'DOCKER', versions: ['1.25', '1.26', '1.27'] },
  { key: 'docker://redis', type: 'DOCKER', versions: ['7'] },
  { key: 'docker://team/app', type: 'DOCKER', versions: ['v1', 'v2', 'v3', 'v4', 'v5'] },
  { key: 'helm://chart', type: 'HELM', versions: ['0.1.0'] },
  { key: 'docker://empty', type: 'DOCKER', versions: [] },
];

describe('bk-repo lister', () => {
  let fake: FakeHttpServer;
  const lister = (options: Record<string, unknown> = {}, password = PASS): ImageLister => {
    const l = createImageLister({
      kind: 'bkrepo',
      options: { projectId: 'proj', repoName: 'docker-local', pageSize: 2, maxRequestsPerSecond: 1000, ...options },
      target: { host: '127.0.0.1', port: fake.port, isHttps: false, credentials: { username: USER, password } },
      timeoutMs: 2000,
    });
    if (!l) throw new Error('expected a lister');
    return l;
  };

  afterEach(async () => fake?.close());

  it('When packages and versions span several pages, then every DOCKER package is listed with all its tags', async () => {
    fake = await startFakeHttpServer(fakeBkrepo('proj', 'docker-local', PACKAGES));

    const images = await collect(lister().listImages(testCtx()));

    expect(images).toEqual([
      { image: 'proj/docker-local/nginx', tags: ['1.25', '1.26', '1.27'] },
      { image: 'proj/docker-local/redis', tags: ['7'] },
      { image: 'proj/docker-local/team/app', tags: ['v1', 'v2', 'v3', 'v4', 'v5'] },
      { image: 'proj/docker-local/empty', tags: [] },
    ]);
    const urls = fake.requests.map((r) => r.url);
    expect(urls.filter((u) => u.startsWith('/repository/api/package/page/proj/docker-local?'))).toEqual([
      '/repository/api/package/page/proj/docker-local?pageNumber=1&pageSize=2',
      '/repository/api/package/page/proj/docker-local?pageNumber=2&pageSize=2',
      '/repository/api/package/page/proj/docker-local?pageNumber=3&pageSize=2',
    ]);
    expect(urls).toContain(
      '/repository/api/version/page/proj/docker-local?packageKey=docker%3A%2F%2Fteam%2Fapp&pageNumber=3&pageSize=2',
    );
    expect(urls.some((u) => u.includes('helm'))).toBe(false);
  });

  it('When the credentials are wrong, then a 5002 says bk-repo refused them with its message', async () => {
    fake = await startFakeHttpServer(fakeBkrepo('proj', 'docker-local', PACKAGES));

    const err = await collect(lister({}, 'wrong').listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toBe('bk-repo refused the credentials (401): Authorization value is invalid (code 250101)');
  });

  it('When the repository does not exist, then the 5002 carries bk-repo message', async () => {
    fake = await startFakeHttpServer(fakeBkrepo('proj', 'docker-local', PACKAGES));

    const err = await collect(lister({ repoName: 'nope' }).listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toMatch(/^bk-repo answered 404 to GET .*: repository \[nope\] not found \(code 251012\)$/);
  });

  it('When bk-repo answers HTTP 200 with a non-zero code, then that is a 5002 with its message', async () => {
    fake = await startFakeHttpServer((_req, res) => envelope(res, 200, 251010, 'project [proj] not found', null));

    const err = await collect(lister().listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toMatch(/^bk-repo answered code 251010 to GET .*: project \[proj\] not found$/);
  });

  it('When bk-repo answers records that are not a list, then a 5002 says it is not a package page', async () => {
    fake = await startFakeHttpServer((_req, res) => envelope(res, 200, 0, null, { totalPages: 1, records: 'nope' }));

    const err = await collect(lister().listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toMatch(/^bk-repo answered a reply that is not a package page: data\.records: /);
  });

  it('When bk-repo answers 429 without Retry-After, then the lister backs off, retries and lists everything', async () => {
    let calls = 0;
    const inner = fakeBkrepo('proj', 'docker-local', PACKAGES);
    fake = await startFakeHttpServer((req, res, url) => {
      calls += 1;
      if (calls === 3) return envelope(res, 429, 429, 'too many requests', null);
      return inner(req, res, url);
    });
    const started = Date.now();

    const images = await collect(lister().listImages(testCtx()));

    expect(images).toHaveLength(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(retried(fake)).toBe(true);
  });

  it('When the fake is asked for page 0 or page 1, then both are the first page (as bk-repo normalises them)', async () => {
    fake = await startFakeHttpServer(fakeBkrepo('proj', 'docker-local', PACKAGES));
    const auth = { Authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}` };
    const get = async (n: number) =>
      (await (
        await fetch(`${fake.baseUrl}/repository/api/package/page/proj/docker-local?pageNumber=${n}&pageSize=2`, {
          headers: auth,
        })
      ).json()) as {
        data: { records: { key: string }[] };
      };

    const [zero, one] = [await get(0), await get(1)];

    expect(zero.data.records).toEqual(one.data.records);
  });
});

/** Two identical consecutive URLs in the log mean the 429 call was retried. */
function retried(fake: FakeHttpServer): boolean {
  return fake.requests.some((r, i) => i > 0 && r.url === fake.requests[i - 1]!.url);
}

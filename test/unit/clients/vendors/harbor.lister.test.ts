import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../../../../src/errors/app-error';
import { createImageLister, type ImageLister } from '../../../../src/clients/registry/vendors';
import { testCtx } from '../../../helpers/fakes/ctx';
import {
  basicCredentials,
  closedPort,
  collect,
  type FakeHttpServer,
  sendJson,
  startFakeHttpServer,
} from '../../../helpers/fakes/fake-http-server';

/**
 * A fake Harbor implementing the v2.0 swagger (api/v2.0/swagger.yaml) for the three list calls:
 * Basic auth, page (default 1) and page_size (default 10, max 100), X-Total-Count and Link rel="next",
 * repository names encoded twice in the artifacts path, and `{"errors":[{code,message}]}` errors.
 */
interface HarborData {
  projects: string[];
  /** Full repository names, with the project prefix. */
  repos: Record<string, string[]>;
  /** Keyed by full repository name; null = untagged artifact. */
  artifacts: Record<string, (string[] | null)[]>;
  /** Artifact types by full repository name, in the order of `artifacts` (default IMAGE). */
  types?: Record<string, string[]>;
}

const USER = 'robot$scan';
const PASS = 's3cret';

function harborError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { errors: [{ code, message }] });
}

function page<T>(req: IncomingMessage, res: ServerResponse, url: URL, items: T[]): void {
  const pageStr = url.searchParams.get('page') ?? '1';
  const sizeStr = url.searchParams.get('page_size') ?? '10';
  if (!/^\d+$/.test(pageStr) || !/^\d+$/.test(sizeStr) || Number(pageStr) < 1 || Number(sizeStr) < 1)
    return harborError(res, 400, 'BAD_REQUEST', 'page and page_size must be positive integers');
  const p = Number(pageStr);
  const size = Number(sizeStr);
  if (size > 100) return harborError(res, 400, 'BAD_REQUEST', 'page_size must be at most 100');
  const slice = items.slice((p - 1) * size, p * size);
  const links: string[] = [];
  const path = url.pathname;
  const rest = [...url.searchParams].filter(([k]) => k !== 'page' && k !== 'page_size');
  const link = (n: number) =>
    `<${path}?${new URLSearchParams([...rest, ['page', String(n)], ['page_size', String(size)]])}>`;
  if (p > 1) links.push(`${link(p - 1)}; rel="prev"`);
  if (p * size < items.length) links.push(`${link(p + 1)}; rel="next"`);
  const headers: Record<string, string> = { 'X-Total-Count': String(items.length) };
  if (links.length) headers.Link = links.join(' , ');
  void req;
  sendJson(res, 200, slice, headers);
}

function fakeHarbor(data: HarborData) {
  return (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const creds = basicCredentials(req);
    if (!creds || creds.user !== USER || creds.pass !== PASS)
      return harborError(res, 401, 'UNAUTHORIZED', 'unauthorized');
    // Route on the raw target: Harbor's router splits before decoding, as Go's mux does with RawPath.
    const raw = (req.url ?? '').split('?')[0] ?? '';
    if (raw === '/api/v2.0/projects')
      return page(
        req,
        res,
        url,
        data.projects.map((name, i) => ({ project_id: i + 1, name })),
      );
    let m = /^\/api\/v2\.0\/projects\/([^/]+)\/repositories$/.exec(raw);
    if (m?.[1]) {
      const p = decodeURIComponent(m[1]);
      if (!data.projects.includes(p)) return harborError(res, 404, 'NOT_FOUND', `project ${p} not found`);
      return page(
        req,
        res,
        url,
        (data.repos[p] ?? []).map((name, i) => ({ id: i + 1, name })),
      );
    }
    m = /^\/api\/v2\.0\/projects\/([^/]+)\/repositories\/([^/]+)\/artifacts$/.exec(raw);
    if (m?.[1] && m[2]) {
      const p = decodeURIComponent(m[1]);
      // The HTTP layer decodes once; Harbor decodes the repository name a second time.
      const once = decodeURIComponent(m[2]);
      if (once.includes('/')) return harborError(res, 404, 'NOT_FOUND', `path not found: ${raw}`);
      const name = `${p}/${decodeURIComponent(once)}`;
      const arts = data.artifacts[name];
      if (!arts) return harborError(res, 404, 'NOT_FOUND', `repository ${name} not found`);
      const withTag = url.searchParams.get('with_tag') !== 'false';
      return page(
        req,
        res,
        url,
        arts.map((tags, i) => ({
          digest: `sha256:${String(i).padStart(64, '0')}`,
          type: data.types?.[name]?.[i] ?? 'IMAGE',
          tags: withTag && tags ? tags.map((t) => ({ name: t, immutable: false })) : null,
        })),
      );
    }
    // A single-encoded a%2Fb splits into extra path segments: no such route.
    return harborError(res, 404, 'NOT_FOUND', `path not found: ${raw}`);
  };
}

const DATA: HarborData = {
  projects: ['library', 'team', 'empty'],
  repos: {
    library: ['library/r1', 'library/r2', 'library/r3', 'library/r4', 'library/r5'],
    team: ['team/a/b'],
    empty: [],
  },
  artifacts: {
    'library/r1': [['1.0']],
    'library/r2': [['2.0', 'latest']],
    'library/r3': [['3.0']],
    'library/r4': [null],
    'library/r5': [['5.0']],
    'team/a/b': [['v1', 'v2'], null, ['v3']],
  },
};

describe('Harbor lister', () => {
  let fake: FakeHttpServer;
  const lister = (options: Record<string, unknown> = {}, creds = { username: USER, password: PASS }): ImageLister => {
    const l = createImageLister({
      kind: 'harbor',
      options: { pageSize: 2, maxRequestsPerSecond: 1000, ...options },
      target: { host: '127.0.0.1', port: fake.port, isHttps: false, credentials: creds },
      timeoutMs: 2000,
    });
    if (!l) throw new Error('expected a lister');
    return l;
  };

  afterEach(async () => fake?.close());

  it('When projects, repositories and artifacts span several pages, then every tagged image is listed once', async () => {
    fake = await startFakeHttpServer(fakeHarbor(DATA));

    const images = await collect(lister().listImages(testCtx()));

    expect(images).toEqual([
      { image: 'library/r1', tags: ['1.0'] },
      { image: 'library/r2', tags: ['2.0', 'latest'] },
      { image: 'library/r3', tags: ['3.0'] },
      { image: 'library/r5', tags: ['5.0'] },
      { image: 'team/a/b', tags: ['v1', 'v2', 'v3'] },
    ]);
    const urls = fake.requests.map((r) => r.url);
    expect(urls).toContain('/api/v2.0/projects?page=2&page_size=2');
    expect(urls).toContain('/api/v2.0/projects/library/repositories?page=3&page_size=2');
    expect(urls).toContain('/api/v2.0/projects/team/repositories/a%252Fb/artifacts?with_tag=true&page=2&page_size=2');
    expect(urls.filter((u) => u.startsWith('/api/v2.0/projects?'))).toHaveLength(2);
  });

  it('When a repository holds a chart and a CNAB bundle beside an image, then only the image tags are listed', async () => {
    fake = await startFakeHttpServer(
      fakeHarbor({
        projects: ['mixed'],
        repos: { mixed: ['mixed/app'] },
        artifacts: { 'mixed/app': [['1.0'], ['chart-1.0'], ['bundle']] },
        types: { 'mixed/app': ['IMAGE', 'CHART', 'CNAB'] },
      }),
    );

    const images = await collect(lister().listImages(testCtx()));

    expect(images).toEqual([{ image: 'mixed/app', tags: ['1.0'] }]);
  });

  it('When a repository name contains "/", then it is sent encoded twice (a%252Fb)', async () => {
    fake = await startFakeHttpServer(fakeHarbor(DATA));

    await collect(lister({ projects: ['team'] }).listImages(testCtx()));

    const artifactCalls = fake.requests.map((r) => r.url).filter((u) => u.includes('/artifacts'));
    expect(artifactCalls.length).toBeGreaterThan(0);
    for (const u of artifactCalls) expect(u).toMatch(/\/repositories\/a%252Fb\/artifacts\?/);
  });

  it('When a repository name is encoded only once, then the fake Harbor answers 404 as Harbor does', async () => {
    fake = await startFakeHttpServer(fakeHarbor(DATA));

    const res = await fetch(`${fake.baseUrl}/api/v2.0/projects/team/repositories/a%2Fb/artifacts?page=1&page_size=2`, {
      headers: { Authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}` },
    });

    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ errors: [expect.objectContaining({ code: 'NOT_FOUND' })] });
  });

  it('When options.projects is set, then only those projects are read and /projects is not called', async () => {
    fake = await startFakeHttpServer(fakeHarbor(DATA));

    const images = await collect(lister({ projects: ['team'] }).listImages(testCtx()));

    expect(images).toEqual([{ image: 'team/a/b', tags: ['v1', 'v2', 'v3'] }]);
    expect(fake.requests.some((r) => r.url.startsWith('/api/v2.0/projects?'))).toBe(false);
  });

  it('When the credentials are wrong, then a RegistryError 5002 says Harbor refused them', async () => {
    fake = await startFakeHttpServer(fakeHarbor(DATA));

    const err = await collect(lister({}, { username: USER, password: 'wrong' }).listImages(testCtx())).catch((e) => e);

    expect(err).toBeInstanceOf(AppError);
    expect(err.code).toBe(5002);
    expect(err.message).toBe('Harbor refused the credentials (401): UNAUTHORIZED unauthorized');
  });

  it('When a configured project does not exist, then the error carries Harbor message', async () => {
    fake = await startFakeHttpServer(fakeHarbor(DATA));

    const err = await collect(lister({ projects: ['nope'] }).listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toMatch(/^Harbor answered 404 to GET .*: NOT_FOUND project nope not found$/);
  });

  it('When Harbor answers an object instead of a project list, then a RegistryError 5002 names the bad reply', async () => {
    fake = await startFakeHttpServer((_req, res) => sendJson(res, 200, { items: [] }));

    const err = await collect(lister().listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toMatch(/^Harbor answered a reply that is not a project list: \(root\): /);
  });

  it('When Harbor answers 429 with Retry-After, then the lister waits that long and succeeds', async () => {
    let limited = false;
    const inner = fakeHarbor(DATA);
    fake = await startFakeHttpServer((req, res, url) => {
      if (!limited) {
        limited = true;
        return sendJson(
          res,
          429,
          { errors: [{ code: 'TOO_MANY_REQUESTS', message: 'slow down' }] },
          { 'Retry-After': '1' },
        );
      }
      return inner(req, res, url);
    });
    const started = Date.now();

    const images = await collect(lister({ projects: ['team'] }).listImages(testCtx()));

    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(images).toEqual([{ image: 'team/a/b', tags: ['v1', 'v2', 'v3'] }]);
    expect(fake.requests[0]?.url).toBe(fake.requests[1]?.url);
  });

  it('When Harbor keeps answering 429, then the retries are bounded and a 5002 says so', async () => {
    fake = await startFakeHttpServer((_req, res) =>
      sendJson(res, 429, { errors: [{ code: 'TOO_MANY', message: 'slow' }] }, { 'Retry-After': '0' }),
    );

    const err = await collect(lister().listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toMatch(/kept answering 429/);
    expect(fake.requests).toHaveLength(4);
  });

  it('When nothing listens on the port, then a 5002 says the connection was refused', async () => {
    const port = await closedPort();
    const l = createImageLister({
      kind: 'harbor',
      options: {},
      target: { host: '127.0.0.1', port, isHttps: false },
      timeoutMs: 2000,
    });

    const err = await collect(l!.listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toBe(`Harbor refused the connection at http://127.0.0.1:${port}/api/v2.0`);
  });

  it('When Harbor does not answer in time, then a 5002 names the timeout', async () => {
    fake = await startFakeHttpServer(() => undefined);
    const l = createImageLister({
      kind: 'harbor',
      options: { apiUrl: fake.baseUrl },
      target: { host: 'registry.invalid', port: 443, isHttps: true },
      timeoutMs: 200,
    });

    const err = await collect(l!.listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toMatch(/^Harbor did not answer GET \/projects\?page=1&page_size=100 within 200 ms$/);
  });
});

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createImageLister, type ImageLister } from '../../../../src/clients/registry/vendors';
import { testCtx } from '../../../helpers/fakes/ctx';
import { collect, type FakeHttpServer, sendJson, startFakeHttpServer } from '../../../helpers/fakes/fake-http-server';

/**
 * A fake Docker Hub API: GET /v2/namespaces/{ns}/repositories and …/{repo}/tags with page and page_size
 * (max 100), replies `{count, next, previous, results}` where `next` is an absolute URL, errors
 * `{"message": …}`.
 */
function fakeHub(base: () => string, data: Record<string, Record<string, string[]>>) {
  return (_req: IncomingMessage, res: ServerResponse, url: URL) => {
    const size = Number(url.searchParams.get('page_size') ?? 10);
    const page = Number(url.searchParams.get('page') ?? 1);
    if (!Number.isInteger(size) || size < 1 || size > 100) return sendJson(res, 400, { message: 'invalid page_size' });
    const paged = (items: { name: string }[]) => {
      const next = page * size < items.length ? `${base()}${url.pathname}?page=${page + 1}&page_size=${size}` : null;
      sendJson(res, 200, {
        count: items.length,
        next,
        previous: null,
        results: items.slice((page - 1) * size, page * size),
      });
    };
    let m = /^\/v2\/namespaces\/([^/]+)\/repositories$/.exec(url.pathname);
    if (m?.[1]) {
      const ns = data[m[1]];
      if (!ns) return sendJson(res, 404, { message: 'object not found', errinfo: {} });
      return paged(Object.keys(ns).map((name) => ({ name, namespace: m![1] })));
    }
    m = /^\/v2\/namespaces\/([^/]+)\/repositories\/([^/]+)\/tags$/.exec(url.pathname);
    const tags = m?.[1] && m[2] ? data[m[1]]?.[m[2]] : undefined;
    if (!tags) return sendJson(res, 404, { message: 'object not found', errinfo: {} });
    return paged(tags.map((name) => ({ name })));
  };
}

const DATA = {
  acme: { api: ['1', '2', '3'], web: ['latest'], tools: ['a', 'b'], db: [], ui: ['x'] },
  other: { one: ['v1'] },
};

describe('Docker Hub lister', () => {
  let fake: FakeHttpServer;
  const lister = (options: Record<string, unknown>): ImageLister => {
    const l = createImageLister({
      kind: 'dockerhub',
      options: { apiUrl: fake.baseUrl, pageSize: 2, maxRequestsPerSecond: 1000, ...options },
      target: { host: 'registry-1.docker.io', port: 443, isHttps: true },
      timeoutMs: 2000,
    });
    if (!l) throw new Error('expected a lister');
    return l;
  };

  afterEach(async () => fake?.close());

  it('When namespaces and tags span several pages, then every repository of each namespace is listed', async () => {
    fake = await startFakeHttpServer(fakeHub(() => fake.baseUrl, DATA));

    const images = await collect(lister({ namespaces: ['acme', 'other'] }).listImages(testCtx()));

    expect(images).toEqual([
      { image: 'acme/api', tags: ['1', '2', '3'] },
      { image: 'acme/web', tags: ['latest'] },
      { image: 'acme/tools', tags: ['a', 'b'] },
      { image: 'acme/db', tags: [] },
      { image: 'acme/ui', tags: ['x'] },
      { image: 'other/one', tags: ['v1'] },
    ]);
    expect(fake.requests.map((r) => r.url)).toContain('/v2/namespaces/acme/repositories?page=3&page_size=2');
  });

  it('When a namespace does not exist, then the 5002 carries Hub message', async () => {
    fake = await startFakeHttpServer(fakeHub(() => fake.baseUrl, DATA));

    const err = await collect(lister({ namespaces: ['ghost'] }).listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toBe(
      'Docker Hub answered 404 to GET /v2/namespaces/ghost/repositories?page_size=2: object not found',
    );
  });

  it('When `next` points to another host, then the lister stops with a 5002 instead of following it', async () => {
    fake = await startFakeHttpServer((_req, res) =>
      sendJson(res, 200, { count: 3, next: 'http://evil.invalid/v2/x?page=2', results: [{ name: 'a' }] }),
    );

    const err = await collect(lister({ namespaces: ['acme'] }).listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toBe('Docker Hub sent a next page on another host (http://evil.invalid)');
  });

  it('When Hub answers a list without results, then a 5002 says it is not a repository page', async () => {
    fake = await startFakeHttpServer((_req, res) => sendJson(res, 200, { count: 0 }));

    const err = await collect(lister({ namespaces: ['acme'] }).listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toMatch(/^Docker Hub answered a reply that is not a repository page: results: /);
  });

  it('When Hub answers 429 with an HTTP-date Retry-After, then the lister waits and succeeds', async () => {
    let limited = false;
    const inner = fakeHub(() => fake.baseUrl, DATA);
    fake = await startFakeHttpServer((req, res, url) => {
      if (!limited) {
        limited = true;
        return sendJson(
          res,
          429,
          { message: 'too many requests' },
          { 'Retry-After': new Date(Date.now() + 1500).toUTCString() },
        );
      }
      return inner(req, res, url);
    });
    const started = Date.now();

    const images = await collect(lister({ namespaces: ['other'] }).listImages(testCtx()));

    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(images).toEqual([{ image: 'other/one', tags: ['v1'] }]);
  });

  it('When maxRequestsPerSecond is 5, then six calls take about a second', async () => {
    fake = await startFakeHttpServer(fakeHub(() => fake.baseUrl, DATA));
    const started = Date.now();

    await collect(lister({ namespaces: ['acme'], pageSize: 100, maxRequestsPerSecond: 5 }).listImages(testCtx()));

    expect(fake.requests).toHaveLength(6);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });
});

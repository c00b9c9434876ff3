import type { IncomingMessage, ServerResponse } from 'node:http';
import { createImageLister, type ImageLister } from '../../../../src/clients/registry/vendors';
import { swrFilter, parseContentRange } from '../../../../src/clients/registry/vendors/swr.lister';
import { testCtx } from '../../../helpers/fakes/ctx';
import { collect, type FakeHttpServer, sendJson, startFakeHttpServer } from '../../../helpers/fakes/fake-http-server';

/**
 * A fake SWR implementing swr_02_0034 (seed 001): GET /v2/manage/repos with a `filter` string of
 * `key::value` pairs joined by `|`; keys center, namespace (fuzzy), name (fuzzy), category, offset, limit,
 * order_column, order_type; offset and limit together, offset 0 or a multiple of limit; Content-Range
 * `offset-count/total` only when both were sent; X-Auth-Token required (401 otherwise).
 */
interface SwrRepo {
  name: string;
  namespace: string;
  category: string;
  tags: string[];
}

const TOKEN = 'iam-token';
const FILTER_KEYS = new Set([
  'center',
  'namespace',
  'name',
  'category',
  'offset',
  'limit',
  'order_column',
  'order_type',
]);

function badRequest(res: ServerResponse, message: string): void {
  sendJson(res, 400, { errorCode: 'SVCSTG.SWR.4001114', errorMessage: message });
}

function fakeSwr(repos: SwrRepo[]) {
  return (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (req.headers['x-auth-token'] !== TOKEN)
      return sendJson(res, 401, { error_code: 'APIGW.0301', error_msg: 'Incorrect IAM authentication information' });
    if (url.pathname !== '/v2/manage/repos')
      return sendJson(res, 404, { errorCode: 'SVCSTG.SWR.4040000', errorMessage: 'not found' });
    const filter = url.searchParams.get('filter');
    if (!filter) return badRequest(res, 'at least one filter parameter is required');
    const f = new Map<string, string>();
    for (const part of filter.split('|')) {
      const m = /^([a-z_]+)::(.*)$/.exec(part);
      if (!m?.[1] || m[2] === undefined || !FILTER_KEYS.has(m[1]) || f.has(m[1]))
        return badRequest(res, `invalid filter part: ${part}`);
      f.set(m[1], m[2]);
    }
    if (f.has('offset') !== f.has('limit')) return badRequest(res, 'offset and limit must be sent together');
    let list = repos.filter(
      (r) =>
        (!f.get('namespace') || r.namespace.includes(f.get('namespace')!)) &&
        (!f.get('name') || r.name.includes(f.get('name')!)) &&
        (!f.get('category') || r.category === f.get('category')),
    );
    const headers: Record<string, string> = {};
    if (f.has('offset')) {
      const offset = Number(f.get('offset'));
      const limit = Number(f.get('limit'));
      if (!Number.isInteger(offset) || !Number.isInteger(limit) || limit < 1 || offset < 0 || offset % limit !== 0)
        return badRequest(res, 'offset must be 0 or a multiple of limit');
      const total = list.length;
      list = list.slice(offset, offset + limit);
      headers['Content-Range'] = `${offset}-${list.length}/${total}`;
    }
    sendJson(
      res,
      200,
      list.map((r) => ({
        ...r,
        path: `swr.example.com/${r.namespace}/${r.name}`,
        internal_path: `10.0.0.1:20202/${r.namespace}/${r.name}`,
        is_public: false,
        num_images: r.tags.length,
        domain_name: 'tenant',
        status: false,
      })),
      headers,
    );
  };
}

const REPOS: SwrRepo[] = [
  { name: 'api', namespace: 'team', category: 'app_server', tags: ['1.0', 'latest'] },
  { name: 'web', namespace: 'team', category: 'app_server', tags: ['2.0'] },
  { name: 'db', namespace: 'team', category: 'database', tags: [] },
  { name: 'stray', namespace: 'team-x', category: 'linux', tags: ['x'] },
  { name: 'worker', namespace: 'team', category: 'app_server', tags: ['3.1'] },
  { name: 'cron', namespace: 'team', category: 'linux', tags: ['4.0'] },
];

describe('Huawei SWR lister', () => {
  let fake: FakeHttpServer;
  const lister = (options: Record<string, unknown> = {}, password: string | null = TOKEN): ImageLister => {
    const l = createImageLister({
      kind: 'swr',
      options: { apiUrl: fake.baseUrl, namespace: 'team', pageSize: 2, maxRequestsPerSecond: 1000, ...options },
      target: {
        host: 'swr.example.com',
        port: 443,
        isHttps: true,
        credentials: password ? { username: 'cn-north-4@AK', password } : undefined,
      },
      timeoutMs: 2000,
    });
    if (!l) throw new Error('expected a lister');
    return l;
  };

  afterEach(async () => fake?.close());

  it('When the namespace spans several pages, then every repository of that namespace is listed with its tags', async () => {
    fake = await startFakeHttpServer(fakeSwr(REPOS));

    const images = await collect(lister().listImages(testCtx()));

    expect(images).toEqual([
      { image: 'team/api', tags: ['1.0', 'latest'] },
      { image: 'team/web', tags: ['2.0'] },
      { image: 'team/db', tags: [] },
      { image: 'team/worker', tags: ['3.1'] },
      { image: 'team/cron', tags: ['4.0'] },
    ]);
    const filters = fake.requests.map((r) => new URL(r.url, fake.baseUrl).searchParams.get('filter'));
    expect(filters).toEqual([
      'center::self|namespace::team|offset::0|limit::2',
      'center::self|namespace::team|offset::2|limit::2',
      'center::self|namespace::team|offset::4|limit::2',
    ]);
  });

  it('When name and category are set, then they go into the filter in the documented order', async () => {
    fake = await startFakeHttpServer(fakeSwr(REPOS));

    const images = await collect(lister({ name: 'web', category: 'app_server' }).listImages(testCtx()));

    expect(images).toEqual([{ image: 'team/web', tags: ['2.0'] }]);
    expect(new URL(fake.requests[0]!.url, fake.baseUrl).searchParams.get('filter')).toBe(
      'center::self|namespace::team|name::web|category::app_server|offset::0|limit::2',
    );
  });

  it('When options.token is set, then it is sent as X-Auth-Token instead of the registry password', async () => {
    fake = await startFakeHttpServer(fakeSwr(REPOS));

    const images = await collect(lister({ token: TOKEN }, 'not-a-token').listImages(testCtx()));

    expect(images).toHaveLength(5);
    expect(fake.requests.every((r) => r.headers['x-auth-token'] === TOKEN)).toBe(true);
  });

  it('When the token is refused, then a 5002 says SWR refused the credentials with its message', async () => {
    fake = await startFakeHttpServer(fakeSwr(REPOS));

    const err = await collect(lister({}, 'expired').listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toBe(
      'Huawei SWR refused the credentials (401): APIGW.0301 Incorrect IAM authentication information',
    );
  });

  it('When there is neither a token nor registry credentials, then creating the lister is a 5003 naming options.token', async () => {
    fake = await startFakeHttpServer(fakeSwr(REPOS));

    expect(() => lister({}, null)).toThrow(
      expect.objectContaining({
        code: 5003,
        message: 'options.token: required for kind swr when the registry has no credentials',
      }),
    );
  });

  it('When SWR answers an object instead of an array, then a 5002 says it is not a repository list', async () => {
    fake = await startFakeHttpServer((_req, res) => sendJson(res, 200, { repos: [] }, { 'Content-Range': '0-0/0' }));

    const err = await collect(lister().listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toMatch(/^Huawei SWR answered a reply that is not a repository list: \(root\): /);
  });

  it('When SWR answers 429 with Retry-After, then the lister waits and then lists everything', async () => {
    let calls = 0;
    const inner = fakeSwr(REPOS);
    fake = await startFakeHttpServer((req, res, url) => {
      calls += 1;
      if (calls === 2)
        return sendJson(
          res,
          429,
          { error_code: 'APIGW.0308', error_msg: 'The throttling threshold has been reached' },
          { 'Retry-After': '1' },
        );
      return inner(req, res, url);
    });
    const started = Date.now();

    const images = await collect(lister().listImages(testCtx()));

    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(images).toHaveLength(5);
    expect(fake.requests).toHaveLength(4);
  });

  it('When SWR answers 500, then the 5002 carries SWR own message', async () => {
    fake = await startFakeHttpServer((_req, res) =>
      sendJson(res, 500, { errorCode: 'SVCSTG.SWR.5000001', errorMessage: 'Internal error' }),
    );

    const err = await collect(lister().listImages(testCtx())).catch((e) => e);

    expect(err.code).toBe(5002);
    expect(err.message).toMatch(
      /^Huawei SWR answered 500 to GET \/v2\/manage\/repos\?filter=.*: SVCSTG\.SWR\.5000001 Internal error$/,
    );
  });

  it.each([
    ['offset not a multiple of limit', 'center::self|namespace::team|offset::1|limit::2'],
    ['offset without limit', 'namespace::team|offset::0'],
    ['a wrong separator', 'namespace=team|offset::0|limit::2'],
  ])('When the filter has %s, then the fake SWR answers 400 as the document says', async (_what, filter) => {
    fake = await startFakeHttpServer(fakeSwr(REPOS));

    const res = await fetch(`${fake.baseUrl}/v2/manage/repos?${new URLSearchParams({ filter })}`, {
      headers: { 'X-Auth-Token': TOKEN },
    });

    expect(res.status).toBe(400);
  });

  it('When Content-Range is parsed, then offset, count and total come out', () => {
    expect(parseContentRange('4-1/5')).toEqual({ offset: 4, count: 1, total: 5 });
    expect(parseContentRange('bytes 0-1/5')).toBeUndefined();
    expect(swrFilter({ apiUrl: 'http://x', namespace: 'n' }, 200, 100)).toBe(
      'center::self|namespace::n|offset::200|limit::100',
    );
  });
});

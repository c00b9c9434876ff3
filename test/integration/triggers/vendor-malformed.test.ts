import request from 'supertest';
import { RegistryError } from '../../../src/errors/app-error';
import { ImageModel } from '../../../src/modules/images';
import { scannerFrom } from '../../../src/modules/scanner';
import { buildImage, insertImages } from '../../factories/image.factory';
import { buildTestApp } from '../../helpers/app';
import { testCtx } from '../../helpers/fakes/ctx';
import { type FakeHttpServer, sendJson, startFakeHttpServer } from '../../helpers/fakes/fake-http-server';
import { useTestDb } from '../../helpers/test-db';

useTestDb();

/**
 * A vendor server whose listing endpoints answer 200 with a body of the wrong shape (what a proxy's
 * error page or an API change looks like); `/v2/` answers as a registry so the registry is usable.
 */
async function malformedVendor(): Promise<FakeHttpServer> {
  return startFakeHttpServer((_req, res, url) => {
    if (url.pathname === '/v2/') return sendJson(res, 200, {}, { 'Docker-Distribution-API-Version': 'registry/2.0' });
    // Harbor projects, SWR repos and bk-repo package pages all expect something else than this.
    return sendJson(res, 200, { unexpected: 'shape', items: 'not a list' }, { 'Content-Range': 'bytes 0-0/1' });
  });
}

const cases: Array<{ kind: string; options: (base: string) => Record<string, unknown>; vendor: RegExp }> = [
  { kind: 'harbor', options: () => ({}), vendor: /^Harbor answered a reply that is not/ },
  {
    kind: 'swr',
    options: (base) => ({ apiUrl: base, namespace: 'team', token: 'iam-token' }),
    vendor: /^Huawei SWR answered a reply that is not/,
  },
  {
    kind: 'bkrepo',
    options: (base) => ({ apiUrl: base, projectId: 'demo', repoName: 'docker-local' }),
    vendor: /^bk-repo answered a reply that is not/,
  },
];

describe.each(cases)('discovery of a $kind registry whose listing reply is malformed', ({ kind, options, vendor }) => {
  let fake: FakeHttpServer;
  beforeEach(async () => {
    fake = await malformedVendor();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('When its discovery runs, then it fails with 5002 naming the vendor and the images collection is unchanged', async () => {
    const { app, deps } = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '2000' });
    const created = await request(app)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: fake.port, kind, options: options(fake.baseUrl) });
    expect(created.body.code).toBe(0);
    const key = `127.0.0.1:${fake.port}`;
    // Images found by an earlier, good discovery: a failed one must neither drop nor mark them vanished.
    await insertImages([
      buildImage({ repository: key, image: 'team/app', tag: 'v1', present: true, seenAt: new Date(0) }),
    ]);
    const before = await ImageModel.find().sort({ _id: 1 }).lean();

    const err = await scannerFrom(deps)
      .service.discover({ repository: key }, testCtx())
      .then(
        () => null,
        (e: unknown) => e,
      );

    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).code).toBe(5002);
    expect((err as Error).message).toMatch(vendor);
    expect(await ImageModel.find().sort({ _id: 1 }).lean()).toEqual(before);
  });

  it('When the discovery is requested through the API, then 202 and the failure is recorded for GET /api/scanner/jobs', async () => {
    const { app, deps } = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '2000' });
    await request(app)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: fake.port, kind, options: options(fake.baseUrl) });
    const key = `127.0.0.1:${fake.port}`;

    const res = await request(app).post('/api/scanner/scan').send({ repository: key });
    await scannerFrom(deps).service.idle();
    const jobs = await request(app).get('/api/scanner/jobs').query({ repository: key });

    expect(res.status).toBe(202);
    expect(jobs.body.data.lastDiscovery.error).toMatch(vendor);
    expect(await ImageModel.countDocuments()).toBe(0);
  });
});

import request from 'supertest';
import type { Express } from 'express';
import { ImageModel } from '../../src/modules/images';
import { SuppressionModel } from '../../src/modules/suppressions';
import { suppressionsFrom } from '../../src/modules/suppressions';
import { buildFinding, buildScanReport, digestOf, seedScanned } from '../factories/scan.factory';
import { buildTestApp } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';

useTestDb();

// Port 9 (discard) is closed here: the registry is stored with a failed connection test, which is all we need.
const REG = '127.0.0.1:9';
const future = () => new Date(Date.now() + 3_600_000).toISOString();

async function withRegistry(): Promise<{ app: Express; deps: ReturnType<typeof buildTestApp>['deps'] }> {
  const t = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '1000' });
  const res = await request(t.app).post('/api/repository').send({ repository: '127.0.0.1', port: 9, name: 'nine' });
  expect(res.body.code).toBe(0);
  return { app: t.app, deps: t.deps };
}

/** Two tags of one digest (a high and a medium CVE in it), plus a second image with the high CVE only. */
async function seedTwoTagsAndAnother() {
  await seedScanned(
    REG,
    [
      { image: 'app', tag: '1.0' },
      { image: 'app', tag: 'latest' },
    ],
    buildScanReport(digestOf(1), [
      buildFinding({ cveId: 'CVE-2023-0001', level: 'High' }),
      buildFinding({ cveId: 'CVE-2023-0002', level: 'Medium', type: 'zlib' }),
    ]),
  );
  await seedScanned(
    REG,
    [{ image: 'other', tag: 'v1' }],
    buildScanReport(digestOf(2), [buildFinding({ cveId: 'CVE-2023-0001', level: 'High' })]),
  );
}

async function countsOf(image: string, tag: string) {
  const d = await ImageModel.findOne({ repository: REG, image, tag }).lean();
  return { high: d!.high, medium: d!.medium, score: d!.score };
}

describe('POST /api/suppressions', () => {
  it('When a tag-scoped suppression is created, then only that tag loses the CVE from its counts and score, at once', async () => {
    const { app } = await withRegistry();
    await seedTwoTagsAndAnother();
    const before = await countsOf('app', '1.0');
    expect(before).toMatchObject({ high: 1, medium: 1 });

    const res = await request(app).post('/api/suppressions').send({
      cveId: 'CVE-2023-0001',
      scope: 'tag',
      repository: 'nine',
      image: 'app',
      tag: '1.0',
      reason: 'not reachable: the daemon is not shipped',
      author: 'alice',
      expiresAt: future(),
    });

    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ cveId: 'CVE-2023-0001', scope: 'tag', repository: REG, active: true });
    expect(res.body.data._id).toMatch(/^[0-9a-f]{24}$/);
    const after = await countsOf('app', '1.0');
    expect(after).toMatchObject({ high: 0, medium: 1 });
    expect(after.score).toBeLessThan(before.score!);
    expect(await countsOf('app', 'latest')).toEqual(before);
    expect(await countsOf('other', 'v1')).toMatchObject({ high: 1 });
    // The list sorted by high reflects it: the suppressed tag sorts first.
    const list = await request(app)
      .post('/api/scanner')
      .send({ sort: { field: 'high', order: 'asc' } });
    expect(list.body.data.docs[0]).toMatchObject({ image: 'app', tag: '1.0', high: 0 });
  });

  it('When a suppression covers a CVE, then the findings list keeps it with suppressed true, other tags false', async () => {
    const { app } = await withRegistry();
    await seedTwoTagsAndAnother();
    await request(app)
      .post('/api/suppressions')
      .send({ cveId: 'CVE-2023-0001', scope: 'image', repository: REG, image: 'app', reason: 'r', author: 'a' })
      .expect(201);

    const listed = await request(app)
      .post('/api/scanner/image')
      .send({ repository: REG, image: 'app', tag: 'latest', sort: { field: 'cveId', order: 'asc' } });
    expect(listed.body.data.count).toBe(2);
    expect(listed.body.data.docs.map((f: { cveId: string; suppressed: boolean }) => [f.cveId, f.suppressed])).toEqual([
      ['CVE-2023-0001', true],
      ['CVE-2023-0002', false],
    ]);
    const other = await request(app).post('/api/scanner/image').send({ repository: REG, image: 'other', tag: 'v1' });
    expect(other.body.data.docs[0].suppressed).toBe(false);
    const one = await request(app).get('/api/scanner').query({ repository: REG, image: 'app', tag: 'latest' });
    expect(one.body.data).toMatchObject({ high: 0, medium: 1 });
  });

  it('When a global suppression exists, then a new scan of a digest honours it', async () => {
    const { app } = await withRegistry();
    await request(app)
      .post('/api/suppressions')
      .send({ cveId: 'CVE-2023-0001', scope: 'global', reason: 'false positive', author: 'a' })
      .expect(201);
    await seedTwoTagsAndAnother();
    expect(await countsOf('app', '1.0')).toMatchObject({ high: 0, medium: 1 });
    expect(await countsOf('other', 'v1')).toMatchObject({ high: 0, score: 0 });
  });

  it.each([
    [{ cveId: 'CVE-23-1' }, 'body.cveId: must be a CVE id'],
    [{ cveId: 'CVE-2023-123' }, 'body.cveId'],
    [{ cveId: 'GHSA-abcd-efgh-ijkl' }, 'body.cveId'],
    [{ expiresAt: '2026-13-01T00:00:00Z' }, 'body.expiresAt: must be an ISO 8601'],
    [{ expiresAt: '2099-01-01T00:00:00' }, 'body.expiresAt: must be an ISO 8601'],
    [{ expiresAt: '2001-01-01T00:00:00Z' }, 'body.expiresAt: must be in the future'],
    [{ scope: 'image' }, 'body.repository: is required for scope "image"'],
    [{ scope: 'global', repository: REG }, 'body.repository: must not be set for scope "global"'],
    [{ scope: 'registry', repository: REG, tag: 'x' }, 'body.tag: must not be set for scope "registry"'],
    [{ reason: '' }, 'body.reason: must not be empty'],
    [{ author: undefined }, 'body.author'],
    [{ active: false }, 'unknown field "active"'],
  ])('When the body has %j, then 5003 names the field and nothing is written', async (patch, message) => {
    const { app } = await withRegistry();
    const body = { cveId: 'CVE-2023-0001', scope: 'global', reason: 'r', author: 'a', ...patch };
    const res = await request(app).post('/api/suppressions').send(body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 5003, message: 'paramException' });
    expect(res.body.data).toContain(message);
    expect(await SuppressionModel.countDocuments()).toBe(0);
  });

  it.each([
    'CVE-2024-123456',
    'cve-2021-44228',
    'GHSA-jfh8-c2jp-5v3q',
    'DLA-3600-1',
    'DSA-5000-1',
    'RHSA-2023:1234',
    'USN-6000-1',
    'ALAS2-2023-2100',
    'GO-2023-1234',
  ])('When cveId is %s, then it is accepted', async (cveId) => {
    const { app } = await withRegistry();
    const res = await request(app).post('/api/suppressions').send({ cveId, scope: 'global', reason: 'r', author: 'a' });
    expect(res.status).toBe(201);
    expect(res.body.data.cveId).toBe(cveId.startsWith('cve') ? cveId.toUpperCase() : cveId);
  });

  it('When the registry is unknown, then 5004 and nothing is written', async () => {
    const { app } = await withRegistry();
    const res = await request(app)
      .post('/api/suppressions')
      .send({ cveId: 'CVE-2023-0001', scope: 'registry', repository: 'nope:5000', reason: 'r', author: 'a' });
    expect(res.body.code).toBe(5004);
    expect(await SuppressionModel.countDocuments()).toBe(0);
  });
});

describe('GET, PUT, DELETE /api/suppressions/:id', () => {
  async function create(app: Express, body: Record<string, unknown> = {}) {
    const res = await request(app)
      .post('/api/suppressions')
      .send({ cveId: 'CVE-2023-0001', scope: 'registry', repository: REG, reason: 'r', author: 'a', ...body });
    expect(res.status).toBe(201);
    return res.body.data as { _id: string };
  }

  it('When suppressions exist, then GET lists them newest first, paged, with X-Total-Count', async () => {
    const { app } = await withRegistry();
    await create(app, { cveId: 'CVE-2023-0001' });
    await create(app, { cveId: 'CVE-2023-0002' });
    await create(app, { cveId: 'CVE-2023-0003' });
    const res = await request(app).get('/api/suppressions').query({ from: 1, size: 1 });
    expect(res.headers['x-total-count']).toBe('3');
    expect(res.body.data.count).toBe(3);
    expect(res.body.data.docs.map((d: { cveId: string }) => d.cveId)).toEqual(['CVE-2023-0002']);
    const byCve = await request(app).get('/api/suppressions').query({ cveId: 'CVE-2023-0003' });
    expect(byCve.body.data.count).toBe(1);
  });

  it('When one is fetched by id, then it is returned; a bad id is 5003, an unknown one 5004', async () => {
    const { app } = await withRegistry();
    const s = await create(app);
    expect((await request(app).get(`/api/suppressions/${s._id}`)).body.data._id).toBe(s._id);
    const bad = await request(app).get('/api/suppressions/xyz');
    expect(bad.status).toBe(400);
    expect(bad.body.data).toContain('params.id');
    const unknown = await request(app).get('/api/suppressions/0123456789abcdef01234567');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe(5004);
  });

  it('When a suppression is moved to another CVE, then the old CVE counts again and the new one stops counting', async () => {
    const { app } = await withRegistry();
    await seedTwoTagsAndAnother();
    const s = await create(app, { cveId: 'CVE-2023-0001' });
    expect(await countsOf('app', '1.0')).toMatchObject({ high: 0, medium: 1 });

    const res = await request(app)
      .put(`/api/suppressions/${s._id}`)
      .send({ cveId: 'CVE-2023-0002', scope: 'registry', repository: REG, reason: 'moved', author: 'b' });

    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ cveId: 'CVE-2023-0002', reason: 'moved', author: 'b' });
    expect(await countsOf('app', '1.0')).toMatchObject({ high: 1, medium: 0 });
    expect(await countsOf('other', 'v1')).toMatchObject({ high: 1 });
  });

  it('When a suppression is deleted, then counts and scores come back without a rescan', async () => {
    const { app } = await withRegistry();
    await seedTwoTagsAndAnother();
    const before = await countsOf('other', 'v1');
    const s = await create(app);
    expect(await countsOf('other', 'v1')).toMatchObject({ high: 0, score: 0 });

    const res = await request(app).delete(`/api/suppressions/${s._id}`);

    expect(res.body.data._id).toBe(s._id);
    expect(await countsOf('other', 'v1')).toEqual(before);
    expect(await SuppressionModel.countDocuments()).toBe(0);
    expect((await request(app).delete(`/api/suppressions/${s._id}`)).body.code).toBe(5004);
  });

  it('When a PUT has a bad body, then 5003 and the stored suppression is unchanged', async () => {
    const { app } = await withRegistry();
    const s = await create(app);
    const res = await request(app)
      .put(`/api/suppressions/${s._id}`)
      .send({ cveId: 'CVE-2023-0001', scope: 'tag', repository: REG, reason: 'r', author: 'a' });
    expect(res.body.code).toBe(5003);
    expect(res.body.data).toContain('body.image: is required for scope "tag"');
    expect((await SuppressionModel.findById(s._id).lean())!.scope).toBe('registry');
  });
});

describe('Suppression expiry', () => {
  it('When a suppression expired, then the sweep deactivates it and the counts come back', async () => {
    const { app, deps } = await withRegistry();
    await seedTwoTagsAndAnother();
    const before = await countsOf('other', 'v1');
    const s = await create(app);
    expect(await countsOf('other', 'v1')).toMatchObject({ high: 0 });
    // Expiry in the past cannot be set through the API: move it in the database, as time would.
    await SuppressionModel.updateOne({ _id: s._id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });

    const expired = await suppressionsFrom(deps).sweepExpired({ log: deps.logger });

    expect(expired).toBe(1);
    expect(await countsOf('other', 'v1')).toEqual(before);
    const got = await request(app).get(`/api/suppressions/${s._id}`);
    expect(got.body.data.active).toBe(false);
    expect(await suppressionsFrom(deps).sweepExpired({ log: deps.logger })).toBe(0);
  });

  async function create(app: Express) {
    const res = await request(app)
      .post('/api/suppressions')
      .send({ cveId: 'CVE-2023-0001', scope: 'global', reason: 'r', author: 'a', expiresAt: future() });
    return res.body.data as { _id: string };
  }
});

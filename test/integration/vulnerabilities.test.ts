import request from 'supertest';
import { ImageModel } from '../../src/modules/images';
import { FindingModel } from '../../src/modules/scanner';
import { markVanished } from '../../src/modules/scanner/discovery';
import { purgeRegistryImages } from '../../src/modules/scanner/purge';
import { acquireLease, releaseLease } from '../../src/db/lease';
import {
  CveDirtyModel,
  CveSummaryModel,
  createCveSummarizer,
  drainDirty,
  vulnerabilitiesFrom,
} from '../../src/modules/vulnerabilities';
import {
  buildFinding,
  digestOf,
  discoverTags,
  scanDigest,
  seedRegistry,
  testCtx,
} from '../factories/scan-report.factory';
import { presentImagesOf } from '../../src/modules/vulnerabilities/present-images';
import { buildTestApp } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';

useTestDb();

const A = digestOf(0xa);
const B = digestOf(0xb);
const C = digestOf(0xc);

const drain = () => drainDirty(50, testCtx);

/**
 * Two registries: r1 has app:1 and app:2 on digest A (one image, two tags), web:1 on B;
 * r2 has db:1 on C. CVE-1 is in A (High, no fix) and B (Critical, fixed by 1.1);
 * CVE-2 only in C; CVE-3 in A and C.
 */
async function seed() {
  const r1 = await seedRegistry('10.0.0.1', 5000);
  const r2 = await seedRegistry('10.0.0.2', 5000);
  await discoverTags(r1, [
    { image: 'team/app', tag: '1', digest: A },
    { image: 'team/app', tag: '2', digest: A },
    { image: 'team/web', tag: '1', digest: B },
  ]);
  await discoverTags(r2, [{ image: 'team/db', tag: '1', digest: C }]);
  await scanDigest(A, [
    buildFinding({ cveId: 'CVE-2024-0001', level: 'High', type: 'openssl' }),
    buildFinding({ cveId: 'CVE-2024-0003', level: 'Low', type: 'zlib', description: 'inflate overflow in zlib' }),
  ]);
  await scanDigest(B, [buildFinding({ cveId: 'CVE-2024-0001', level: 'Critical', type: 'libssl3', fixedBy: '1.1' })]);
  await scanDigest(C, [
    buildFinding({ cveId: 'CVE-2024-0002', level: 'Medium', type: 'bash', description: 'shell (a.b) issue' }),
    buildFinding({ cveId: 'CVE-2024-0003', level: 'Low', type: 'zlib', description: 'inflate overflow in zlib' }),
  ]);
  await drain();
  return { r1, r2 };
}

const list = (app: ReturnType<typeof buildTestApp>['app'], body: Record<string, unknown> = {}) =>
  request(app).post('/api/vulnerabilities').send(body);

describe('POST /api/vulnerabilities', () => {
  it('When several images share CVEs, then each CVE is listed once with its highest level, images, tags, digests and fix', async () => {
    const { app } = buildTestApp();
    await seed();

    const res = await list(app, { sort: { field: 'cveId', order: 'asc' } });

    expect(res.status).toBe(200);
    expect(res.body.code).toBe(0);
    expect(res.headers['x-total-count']).toBe('3');
    expect(res.body.data.count).toBe(3);
    expect(res.body.data.docs.map((d: { cveId: string }) => d.cveId)).toEqual([
      'CVE-2024-0001',
      'CVE-2024-0002',
      'CVE-2024-0003',
    ]);
    expect(res.body.data.docs[0]).toMatchObject({
      cveId: 'CVE-2024-0001',
      repository: null,
      level: 'Critical',
      images: 2,
      tags: 3,
      digests: 2,
      fixable: true,
      packages: ['libssl3', 'openssl'],
    });
    expect(res.body.data.docs[2]).toMatchObject({ images: 2, tags: 3, digests: 2, fixable: false, level: 'Low' });
  });

  it('When sorted by level, images or fixable, then the order follows severity and counts, ties by cveId', async () => {
    const { app } = buildTestApp();
    await seed();

    const byLevel = await list(app, { sort: { field: 'level', order: 'desc' } });
    const byImagesAsc = await list(app, { sort: { field: 'images', order: 'asc' } });
    const byFixable = await list(app, { sort: { field: 'fixable', order: 'desc' } });

    const ids = (r: request.Response) => r.body.data.docs.map((d: { cveId: string }) => d.cveId);
    expect(ids(byLevel)).toEqual(['CVE-2024-0001', 'CVE-2024-0002', 'CVE-2024-0003']);
    expect(ids(byImagesAsc)[0]).toBe('CVE-2024-0002');
    expect(ids(byFixable)[0]).toBe('CVE-2024-0001');
  });

  it('When searched, then terms match cveId, description and package literally and case-insensitively', async () => {
    const { app } = buildTestApp();
    await seed();

    const byPackage = await list(app, { search: ['LIBSSL'] });
    const byDescription = await list(app, { search: ['(a.b)'] });
    const literalDot = await list(app, { search: ['a.c'] });
    const byId = await list(app, { search: ['2024-0003', 'zlib'] });

    expect(byPackage.body.data.docs.map((d: { cveId: string }) => d.cveId)).toEqual(['CVE-2024-0001']);
    expect(byDescription.body.data.docs.map((d: { cveId: string }) => d.cveId)).toEqual(['CVE-2024-0002']);
    expect(literalDot.body.data.count).toBe(0);
    expect(byId.body.data.docs.map((d: { cveId: string }) => d.cveId)).toEqual(['CVE-2024-0003']);
  });

  it("When filtered by registry (key, alias or host), then counts are that registry's only", async () => {
    const { app } = buildTestApp();
    const { r1 } = await seed();

    const res = await list(app, { repository: '10.0.0.1', sort: { field: 'cveId', order: 'asc' } });

    expect(res.body.data.count).toBe(2);
    expect(res.body.data.docs[0]).toMatchObject({ cveId: 'CVE-2024-0001', repository: r1, images: 2, tags: 3 });
    expect(res.body.data.docs[1]).toMatchObject({ cveId: 'CVE-2024-0003', repository: r1, images: 1, tags: 2 });
  });

  it('When the body is bad or the registry unknown, then 5003 or 5004 and nothing is listed', async () => {
    const { app } = buildTestApp();
    await seed();

    const badField = await list(app, { sort: { field: 'score' } });
    const badSize = await list(app, { pagination: { from: 0, size: 0 } });
    const unknownKey = await list(app, { nope: 1 });
    const unknownRegistry = await list(app, { repository: '10.9.9.9:5000' });

    expect(badField.status).toBe(400);
    expect(badField.body).toMatchObject({ code: 5003, message: 'paramException' });
    expect(badField.body.data).toMatch(/body\.sort\.field/);
    expect(badSize.body.code).toBe(5003);
    expect(unknownKey.body.code).toBe(5003);
    expect(unknownRegistry.status).toBe(404);
    expect(unknownRegistry.body.code).toBe(5004);
  });
});

describe('CVE summaries, maintained incrementally', () => {
  it('When a scan stores findings, then their CVEs are marked dirty, and a pass clears the markers', async () => {
    const r1 = await seedRegistry('10.0.0.1', 5000);
    await discoverTags(r1, [{ image: 'a', tag: '1', digest: A }]);

    await scanDigest(A, [buildFinding({ cveId: 'CVE-2024-0001' }), buildFinding({ cveId: 'CVE-2024-0002' })]);
    const before = await CveDirtyModel.find({ _id: /^cve:/ }).lean();
    const result = await drain();

    expect(before.map((m) => m._id).sort()).toEqual(['cve:CVE-2024-0001', 'cve:CVE-2024-0002']);
    expect(result.cves).toBe(2);
    expect(await CveDirtyModel.countDocuments()).toBe(0);
    expect(await CveSummaryModel.countDocuments({ registry: '' })).toBe(2);
  });

  it('When a rescan no longer reports a CVE, then its summary goes after the next pass', async () => {
    const { app } = buildTestApp();
    await seed();

    await scanDigest(C, [buildFinding({ cveId: 'CVE-2024-0003', level: 'Low', type: 'zlib' })]);
    await drain();
    const res = await list(app, { sort: { field: 'cveId', order: 'asc' } });

    expect(res.body.data.docs.map((d: { cveId: string }) => d.cveId)).toEqual(['CVE-2024-0001', 'CVE-2024-0003']);
    expect(await CveSummaryModel.countDocuments({ cveId: 'CVE-2024-0002' })).toBe(0);
  });

  it('When a tag moves to another digest or vanishes, then the affected counts follow after the next pass', async () => {
    const { r1 } = await seed();

    // team/app:2 moves from A to B: CVE-3 (only in A in r1) loses a tag; CVE-1 keeps 3 tags.
    await discoverTags(r1, [{ image: 'team/app', tag: '2', digest: B }]);
    await drain();
    const afterMove = await CveSummaryModel.findOne({ registry: r1, cveId: 'CVE-2024-0003' }).lean();
    // Every r1 tag but team/web:1 vanishes from the next full discovery.
    const seenAt = new Date(Date.now() + 1000);
    await discoverTags(r1, [{ image: 'team/web', tag: '1', digest: B }], seenAt);
    await markVanished(r1, seenAt);
    await drain();
    const one = await CveSummaryModel.findOne({ registry: r1, cveId: 'CVE-2024-0001' }).lean();
    const gone = await CveSummaryModel.findOne({ registry: r1, cveId: 'CVE-2024-0003' }).lean();

    expect(afterMove).toMatchObject({ images: 1, tags: 1 });
    expect(one).toMatchObject({ images: 1, tags: 1, digests: 1, level: 'Critical' });
    expect(gone).toBeNull();
  });

  it('When a registry is purged, then its summaries go and the global ones drop its images', async () => {
    const { r1, r2 } = await seed();

    await purgeRegistryImages(r2);
    await drain();

    expect(await CveSummaryModel.countDocuments({ registry: r2 })).toBe(0);
    expect(await CveSummaryModel.findOne({ registry: '', cveId: 'CVE-2024-0002' }).lean()).toBeNull();
    expect(await CveSummaryModel.findOne({ registry: '', cveId: 'CVE-2024-0003' }).lean()).toMatchObject({
      images: 1,
      tags: 2,
    });
    expect(await CveSummaryModel.countDocuments({ registry: r1 })).toBe(2);
  });

  it('When another instance holds the summary lease, then this one runs no pass and the markers stay', async () => {
    const r1 = await seedRegistry('10.0.0.1', 5000);
    await discoverTags(r1, [{ image: 'a', tag: '1', digest: A }]);
    await scanDigest(A, [buildFinding({ cveId: 'CVE-2024-0001' })]);
    const other = await acquireLease('cve-summaries', 'other-instance', 60_000);
    const mine = createCveSummarizer({
      logger: testCtx.log,
      instance: 'me',
      intervalMs: 0,
      batch: 10,
      leaseMs: 60_000,
    });

    const blocked = await mine.run();
    await releaseLease(other!);
    const ran = await mine.run();

    expect(blocked).toBeNull();
    expect(ran).toEqual({ cves: 1, digests: 1 });
    expect(await CveDirtyModel.countDocuments()).toBe(0);
    expect(await CveSummaryModel.countDocuments({ cveId: 'CVE-2024-0001' })).toBe(2);
  });

  it('When the summary pass is started, then a stored scan is summarised without anyone calling it', async () => {
    const { deps } = buildTestApp({ CVE_SUMMARY_INTERVAL_MS: '60000' });
    const { summarizer } = vulnerabilitiesFrom(deps);
    const r1 = await seedRegistry('10.0.0.1', 5000);
    await discoverTags(r1, [{ image: 'a', tag: '1', digest: A }]);
    summarizer.start();
    try {
      await scanDigest(A, [buildFinding({ cveId: 'CVE-2024-0007' })]);
      // The scan woke the pass; wait for the queue to drain (bounded, not timed).
      for (let i = 0; i < 100 && (await CveDirtyModel.countDocuments()) > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await summarizer.stop();
    }

    expect(await CveSummaryModel.findOne({ registry: '', cveId: 'CVE-2024-0007' }).lean()).toMatchObject({ tags: 1 });
  });
});

describe('GET /api/vulnerabilities/:cveId/images', () => {
  it('When a CVE is in twenty digests, then every image is counted and listed, and pages cut across them', async () => {
    const { app } = buildTestApp();
    const r1 = await seedRegistry('10.0.0.1', 5000);
    const digests = Array.from({ length: 20 }, (_, i) => digestOf(0x100 + i));
    await discoverTags(
      r1,
      digests.map((digest, i) => ({ image: `app-${i}`, tag: '1', digest })),
    );
    for (const d of digests) await scanDigest(d, [buildFinding({ cveId: 'CVE-2024-0100' })]);
    await drain();

    const all = await request(app).get('/api/vulnerabilities/CVE-2024-0100/images?size=100');
    const page = await request(app).get('/api/vulnerabilities/CVE-2024-0100/images?from=18&size=5');

    expect(await CveSummaryModel.findOne({ registry: '', cveId: 'CVE-2024-0100' }).lean()).toMatchObject({
      images: 20,
      tags: 20,
      digests: 20,
    });
    expect(all.body.data.docs).toHaveLength(20);
    expect(new Set(all.body.data.docs.map((d: { image: string }) => d.image)).size).toBe(20);
    expect(page.body.data.docs.map((d: { digest: string }) => d.digest)).toEqual(digests.slice(18));
  });

  it('When more digests than the equality limit are looked up, then $in finds the same present images', async () => {
    const r1 = await seedRegistry('10.0.0.1', 5000);
    const digests = [A, B, C];
    await discoverTags(r1, [
      { image: 'a', tag: '1', digest: A },
      { image: 'a', tag: '2', digest: A },
      { image: 'b', tag: '1', digest: B },
      { image: 'c', tag: '1', digest: C },
    ]);
    await ImageModel.updateOne({ image: 'c' }, { $set: { present: false } });
    const names = (imgs: Array<{ image: string; tag: string }>) => imgs.map((i) => `${i.image}:${i.tag}`).sort();

    const byEquality = await presentImagesOf(digests);
    const byIn = await presentImagesOf(digests, {}, 0);

    expect(names(byIn)).toEqual(['a:1', 'a:2', 'b:1']);
    expect(names(byEquality)).toEqual(names(byIn));
  });

  it('When a CVE affects several images, then every registry, image, tag, platform and digest is listed with package, version and fix', async () => {
    const { app } = buildTestApp();
    const { r1 } = await seed();

    const res = await request(app).get('/api/vulnerabilities/cve-2024-0001/images');

    expect(res.status).toBe(200);
    expect(res.headers['x-total-count']).toBe('3');
    expect(res.body.data.docs).toEqual([
      {
        repository: r1,
        image: 'team/app',
        tag: '1',
        platform: 'linux/amd64',
        digest: A,
        level: 'High',
        packages: [{ package: 'openssl', version: '3.0.11-1', fixedBy: '', level: 'High' }],
      },
      expect.objectContaining({ image: 'team/app', tag: '2', digest: A }),
      {
        repository: r1,
        image: 'team/web',
        tag: '1',
        platform: 'linux/amd64',
        digest: B,
        level: 'Critical',
        packages: [{ package: 'libssl3', version: '3.0.11-1', fixedBy: '1.1', level: 'Critical' }],
      },
    ]);
  });

  it('When paged or filtered by registry, then the page and the count follow', async () => {
    const { app } = buildTestApp();
    await seed();

    const page2 = await request(app).get('/api/vulnerabilities/CVE-2024-0003/images?from=1&size=1');
    const r2 = await request(app).get('/api/vulnerabilities/CVE-2024-0003/images?repository=10.0.0.2:5000');

    expect(page2.body.data.count).toBe(3);
    expect(page2.body.data.docs).toHaveLength(1);
    expect(page2.body.data.docs[0]).toMatchObject({ image: 'team/app', tag: '2' });
    expect(r2.body.data.count).toBe(1);
    expect(r2.body.data.docs.map((d: { image: string }) => d.image)).toEqual(['team/db']);
  });

  it('When the cveId is malformed or the query bad, then 5003; when no image has it, then 5004', async () => {
    const { app } = buildTestApp();
    await seed();

    const malformed = await request(app).get('/api/vulnerabilities/CVE-2024%20bad$/images');
    const badSize = await request(app).get('/api/vulnerabilities/CVE-2024-0001/images?size=0');
    const unknown = await request(app).get('/api/vulnerabilities/CVE-1999-0001/images');

    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe(5003);
    expect(malformed.body.data).toMatch(/params\.cveId/);
    expect(badSize.body.code).toBe(5003);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe(5004);
  });

  it('When a finding was fixed by a rescan, then its image is no longer listed', async () => {
    const { app } = buildTestApp();
    await seed();

    await scanDigest(B, []);
    const res = await request(app).get('/api/vulnerabilities/CVE-2024-0001/images');

    expect(res.body.data.docs.map((d: { digest: string }) => d.digest)).toEqual([A, A]);
    expect(await FindingModel.countDocuments({ digest: B, fixedAt: { $ne: null } })).toBe(1);
    expect(await ImageModel.countDocuments({ digest: B })).toBe(1);
  });
});

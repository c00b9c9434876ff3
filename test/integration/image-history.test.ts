import request from 'supertest';
import { ImageModel } from '../../src/modules/images';
import { FindingModel } from '../../src/modules/scanner';
import { ImageHistoryModel, recordScan } from '../../src/modules/vulnerabilities';
import { buildFinding, digestOf, discoverTags, scanDigest, seedRegistry } from '../factories/scan-report.factory';
import { buildTestApp } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';

useTestDb();

const D1 = digestOf(0xd1);
const D2 = digestOf(0xd2);
const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

const history = (app: ReturnType<typeof buildTestApp>['app'], q: Record<string, string>) =>
  request(app).get('/api/scanner/history').query(q);

describe('history of findings', () => {
  it('When a rescan no longer reports a finding, then it gets fixedAt and is kept, out of the open ones', async () => {
    const key = await seedRegistry('10.0.0.1', 5000);
    await discoverTags(key, [{ image: 'app', tag: '1', digest: D1 }]);
    await scanDigest(D1, [buildFinding({ cveId: 'CVE-2024-0001' }), buildFinding({ cveId: 'CVE-2024-0002' })], t(1));

    await scanDigest(D1, [buildFinding({ cveId: 'CVE-2024-0001' })], t(2));

    const fixed = await FindingModel.findOne({ digest: D1, cveId: 'CVE-2024-0002' }).lean();
    expect(fixed).not.toBeNull();
    expect(fixed!.fixedAt).toEqual(t(2));
    expect(fixed!.created_at).toEqual(t(1));
    expect(await FindingModel.countDocuments({ digest: D1, fixedAt: null })).toBe(1);
    expect(await ImageModel.findOne({ digest: D1 }).lean()).toMatchObject({ high: 1 });
  });
});

describe('GET /api/scanner/history', () => {
  it('When an image was scanned several times, then each scan is a point with its counts, packages, score and digest, newest first', async () => {
    const { app } = buildTestApp();
    const key = await seedRegistry('10.0.0.1', 5000);
    await discoverTags(key, [{ image: 'team/app', tag: '1', digest: D1 }]);
    await scanDigest(D1, [buildFinding({ cveId: 'CVE-2024-0001', level: 'Critical' })], t(1));
    await scanDigest(
      D1,
      [
        buildFinding({ cveId: 'CVE-2024-0001', level: 'Critical' }),
        buildFinding({ cveId: 'CVE-2024-0002', level: 'Low' }),
      ],
      t(2),
    );

    const res = await history(app, { repository: key, image: 'team/app', tag: '1' });
    const asc = await history(app, { repository: '10.0.0.1', image: 'team/app', tag: '1', order: 'asc', limit: '1' });

    expect(res.status).toBe(200);
    expect(res.headers['x-total-count']).toBe('2');
    expect(res.body.data.docs).toHaveLength(2);
    expect(res.body.data.docs[0]).toMatchObject({
      repository: key,
      image: 'team/app',
      tag: '1',
      platform: 'linux/amd64',
      at: t(2).toISOString(),
      digest: D1,
      critical: 1,
      low: 1,
      high: 0,
      packages: 100,
    });
    expect(res.body.data.docs[0].score).toEqual(expect.any(Number));
    expect(res.body.data.docs[1]).toMatchObject({ at: t(1).toISOString(), critical: 1, low: 0 });
    expect(asc.body.data.docs.map((d: { at: string }) => d.at)).toEqual([t(1).toISOString()]);
  });

  it('When a digest serves several tags, then each tag gets the point, read from its image document', async () => {
    const { app } = buildTestApp();
    const key = await seedRegistry('10.0.0.1', 5000);
    await discoverTags(key, [
      { image: 'app', tag: '1', digest: D1 },
      { image: 'app', tag: 'latest', digest: D1 },
    ]);
    await scanDigest(D1, [buildFinding({ level: 'High' })], t(1));
    // A per-image adjustment made after applySummary (what suppressions do) is what the point shows.
    await ImageModel.updateOne({ image: 'app', tag: 'latest' }, { $set: { high: 0 } });

    await recordScan(D1, t(2));

    const one = await history(app, { repository: key, image: 'app', tag: '1' });
    const latest = await history(app, { repository: key, image: 'app', tag: 'latest' });
    expect(one.body.data.docs.map((d: { high: number }) => d.high)).toEqual([1, 1]);
    expect(latest.body.data.docs.map((d: { high: number }) => d.high)).toEqual([0, 1]);
  });

  it('When a refresh changes nothing, then no point is added; when it changes counts, then one is', async () => {
    const key = await seedRegistry('10.0.0.1', 5000);
    await discoverTags(key, [{ image: 'app', tag: '1', digest: D1 }]);
    await scanDigest(D1, [buildFinding()], t(1));

    const unchanged = await recordScan(D1, t(2), { onlyIfChanged: true });
    await ImageModel.updateOne({ digest: D1 }, { $set: { medium: 3 } });
    const changed = await recordScan(D1, t(3), { onlyIfChanged: true });

    expect(unchanged).toBe(0);
    expect(changed).toBe(1);
    expect(await ImageHistoryModel.countDocuments()).toBe(2);
  });

  it('When a tag moved to another digest, then its points show both digests', async () => {
    const { app } = buildTestApp();
    const key = await seedRegistry('10.0.0.1', 5000);
    await discoverTags(key, [{ image: 'app', tag: '1', digest: D1 }]);
    await scanDigest(D1, [buildFinding()], t(1));
    await discoverTags(key, [{ image: 'app', tag: '1', digest: D2 }]);
    await scanDigest(D2, [], t(2));

    const res = await history(app, { repository: key, image: 'app', tag: '1', order: 'asc' });

    expect(res.body.data.docs.map((d: { digest: string; high: number }) => [d.digest, d.high])).toEqual([
      [D1, 1],
      [D2, 0],
    ]);
  });

  it('When the image is unknown, then 5004; when the query is bad, then 5003', async () => {
    const { app } = buildTestApp();
    const key = await seedRegistry('10.0.0.1', 5000);
    await discoverTags(key, [{ image: 'app', tag: '1', digest: D1 }]);

    const unknownImage = await history(app, { repository: key, image: 'nope', tag: '1' });
    const unknownRegistry = await history(app, { repository: '10.9.9.9:5000', image: 'app', tag: '1' });
    const noTag = await history(app, { repository: key, image: 'app' });
    const badLimit = await history(app, { repository: key, image: 'app', tag: '1', limit: '0' });
    const badOrder = await history(app, { repository: key, image: 'app', tag: '1', order: 'sideways' });

    expect(unknownImage.status).toBe(404);
    expect(unknownImage.body.code).toBe(5004);
    expect(unknownRegistry.body.code).toBe(5004);
    expect(noTag.status).toBe(400);
    expect(noTag.body.code).toBe(5003);
    expect(noTag.body.data).toMatch(/query\.tag/);
    expect(badLimit.body.code).toBe(5003);
    expect(badOrder.body.code).toBe(5003);
  });
});

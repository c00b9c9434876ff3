import mongoose from 'mongoose';
import request from 'supertest';
import type { Finding, ScanReport } from '../../src/clients/clair';
import { DEFAULT_WEIGHTS, computeScore } from '../../src/domain/scoring';
import type { LevelName } from '../../src/domain/severity';
import { createLogger } from '../../src/logger';
import { ImageModel, type ImageDoc } from '../../src/modules/images';
import { upsertResolved } from '../../src/modules/scanner/discovery';
import { applySummary, storeReport } from '../../src/modules/scanner';
import { buildTestApp } from '../helpers/app';
import { freePort } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';

useTestDb({ clearEach: false });

/**
 * /api/scanner over data stored by our own pipeline functions: images upserted the way discovery
 * does, findings stored with storeReport and summarised with applySummary from reports built here.
 */
const ctx = { log: createLogger('silent') };
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const D3 = `sha256:${'3'.repeat(64)}`;
const D4 = `sha256:${'4'.repeat(64)}`;

const f = (cveId: string, level: LevelName, type: string, extra: Partial<Finding> = {}): Finding => ({
  cveId,
  description: `${cveId} in ${type}`,
  link: `https://security-tracker.debian.org/tracker/${cveId}`,
  level,
  type,
  version: '1.0-1',
  versionFormat: 'dpkg',
  fixedBy: '',
  ...extra,
});

const REPORT1: ScanReport = {
  manifestDigest: D1,
  namespace: 'debian:12',
  packages: 20,
  findings: [
    f('CVE-2024-0001', 'Critical', 'zlib1g', { fixedBy: '1.0-2' }),
    f('CVE-2023-0002', 'High', 'libssl3', { version: '3.0.11-1~deb12u2' }),
    f('CVE-2022-0003', 'Medium', 'libssl3', { description: 'overflow in parse() [heap] \\ backslash' }),
    f('CVE-2021-0004', 'Low', 'libc6'),
    f('CVE-2020-0005', 'Negligible', 'bash'),
    f('CVE-2019-0006', 'Unknown', 'coreutils'),
  ],
};
const REPORT2: ScanReport = {
  manifestDigest: D2,
  namespace: 'debian:12',
  packages: 5,
  findings: [f('CVE-2023-0002', 'High', 'libssl3'), f('CVE-2021-0004', 'Low', 'libc6')],
};
const REPORT3: ScanReport = {
  manifestDigest: D3,
  namespace: 'ubuntu:22.04',
  packages: 40,
  findings: [
    f('CVE-2024-1000', 'Critical', 'openssl'),
    f('CVE-2024-1001', 'Critical', 'curl'),
    f('CVE-2024-1002', 'Medium', 'curl'),
  ],
};

let key: string;
let app: ReturnType<typeof buildTestApp>['app'];

/** Empties the database and stores the data every test reads (tests that change it call it again). */
async function seed(): Promise<void> {
  const db = mongoose.connection.db!;
  await Promise.all((await db.collections()).map((c) => c.deleteMany({})));
  const t = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '1000' });
  app = t.app;
  const created = await request(app)
    .post('/api/repository')
    .send({ repository: '127.0.0.1', port: await freePort() });
  key = created.body.data.key;
  const seen = new Date('2026-01-01T00:00:00Z');
  const r = (image: string, tag: string, digest: string) => ({
    image,
    tag,
    platform: 'linux/amd64',
    digest,
    tagDigest: digest,
  });
  await upsertResolved(
    key,
    [
      r('alpha/web', '1.0', D1),
      r('alpha/web', 'latest', D1),
      r('beta/api', '2.0', D2),
      r('gamma/db', '3', D3),
      r('delta/cache', 'edge', D4),
      r('omega/gone', 'old', D4),
    ],
    seen,
  );
  await ImageModel.updateOne({ image: 'omega/gone' }, { $set: { present: false } });
  const reports = [REPORT1, REPORT2, REPORT3];
  for (const [i, rep] of reports.entries()) {
    const now = new Date(Date.UTC(2026, 0, 2 + i));
    const stored = await storeReport(rep.manifestDigest, rep, { batchSize: 2, now }, ctx);
    await applySummary(rep.manifestDigest, stored.summary, DEFAULT_WEIGHTS, now);
  }
}

const counts = async () => {
  const db = mongoose.connection.db!;
  const names = (await db.listCollections().toArray()).map((c) => c.name).sort();
  return Promise.all(names.map(async (n) => [n, await db.collection(n).countDocuments()]));
};

beforeAll(seed);

describe('POST /api/scanner', () => {
  const list = (body: object) => request(app).post('/api/scanner').send(body);

  it('When no body fields are given, then present images come back sorted by created_at asc, 10 per page, with the count and X-Total-Count', async () => {
    const res = await list({});
    expect(res.status).toBe(200);
    expect(res.headers['x-total-count']).toBe('5');
    expect(res.body.data.count).toBe(5);
    // Never-scanned images (created_at null) sort first in ascending order; omega/gone is not present.
    expect(res.body.data.docs.map((d: { name: string }) => d.name)).toEqual([
      `${key}/delta/cache:edge`,
      `${key}/alpha/web:1.0`,
      `${key}/alpha/web:latest`,
      `${key}/beta/api:2.0`,
      `${key}/gamma/db:3`,
    ]);
  });

  it('When a scanned image is listed, then it carries the seed fields, the counts and the score computed from the default weights', async () => {
    const res = await list({ search: ['gamma'] });
    expect(res.body.data.docs).toEqual([
      {
        repository: key,
        image: 'gamma/db',
        tag: '3',
        name: `${key}/gamma/db:3`,
        platform: 'linux/amd64',
        digest: D3,
        namespace: 'ubuntu:22.04',
        critical: 2,
        high: 0,
        medium: 1,
        low: 0,
        negligible: 0,
        unknown: 0,
        packages: 40,
        // (10·2 + 5·1) / (10 · 40)
        score: 25 / 400,
        scanStatus: 'done',
        present: true,
        created_at: '2026-01-04T00:00:00.000Z',
        updated_at: '2026-01-04T00:00:00.000Z',
      },
    ]);
    expect(computeScore({ critical: 2, medium: 1 }, 40, DEFAULT_WEIGHTS)).toBe(25 / 400);
  });

  const SORTABLE = [
    'created_at',
    'updated_at',
    'score',
    'image',
    'tag',
    'critical',
    'high',
    'medium',
    'low',
    'negligible',
    'unknown',
  ] as const;

  it.each(SORTABLE)('When sorted by %s, then asc and desc (and dasc) follow the field, ties by _id', async (field) => {
    const docs = await ImageModel.find({ present: true }).lean<ImageDoc[]>();
    const val = (d: ImageDoc) => {
      // A field never set (a never-scanned image's created_at) sorts like null.
      const v = (d as unknown as Record<string, unknown>)[field] ?? null;
      return v instanceof Date ? v.getTime() : (v as string | number | null);
    };
    const cmp = (a: ImageDoc, b: ImageDoc) => {
      const [x, y] = [val(a), val(b)];
      if (x !== y) {
        if (x === null) return -1;
        if (y === null) return 1;
        return x < y ? -1 : 1;
      }
      return String(a._id) < String(b._id) ? -1 : 1;
    };
    const asc = docs.sort(cmp).map((d) => `${d.image}:${d.tag}`);
    const names = (r: request.Response) =>
      r.body.data.docs.map((d: { image: string; tag: string }) => `${d.image}:${d.tag}`);

    expect(names(await list({ sort: { field, order: 'asc' } }))).toEqual(asc);
    expect(names(await list({ sort: { field, order: 'desc' } }))).toEqual([...asc].reverse());
    expect(names(await list({ sort: { field, order: 'DASC' } }))).toEqual([...asc].reverse());
  });

  it('When paging, then from and size cut the sorted list and count stays the total', async () => {
    const all = (await list({ sort: { field: 'score', order: 'desc' }, pagination: { from: 0, size: 500 } })).body.data
      .docs;
    const page = await list({ sort: { field: 'score', order: 'desc' }, pagination: { from: 2, size: 2 } });
    expect(page.body.data.count).toBe(5);
    expect(page.headers['x-total-count']).toBe('5');
    expect(page.body.data.docs).toEqual(all.slice(2, 4));
    const past = await list({ pagination: { from: 50, size: 10 } });
    expect(past.body.data).toEqual({ docs: [], count: 5 });
  });

  it('When searching, then terms are case-insensitive substrings of image, tag or namespace and all must match', async () => {
    const names = async (search: string[], repository?: string) =>
      (await list({ search, ...(repository ? { repository } : {}) })).body.data.docs
        .map((d: { name: string }) => d.name)
        .sort();
    expect(await names(['ALPHA'])).toEqual([`${key}/alpha/web:1.0`, `${key}/alpha/web:latest`]);
    expect(await names(['LATEST'])).toEqual([`${key}/alpha/web:latest`]);
    expect(await names(['Ubuntu'])).toEqual([`${key}/gamma/db:3`]);
    expect(await names(['debian', 'api'])).toEqual([`${key}/beta/api:2.0`]);
    expect(await names(['debian', 'gamma'])).toEqual([]);
    expect(await names(['  web  '], key)).toEqual([`${key}/alpha/web:1.0`, `${key}/alpha/web:latest`]);
    // An empty term is no term.
    expect((await names(['', '   '])).length).toBe(5);
  });

  it.each(['.*', '(', '[', '\\', 'a|b', '^alpha', '$where', '{"$gt":""}'])(
    'When the search term is %j, then it matches literally (nothing here) and never errors',
    async (term) => {
      const res = await list({ search: [term] });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ docs: [], count: 0 });
    },
  );

  it('When a term holds a regex character that is in a name, then it matches that name literally', async () => {
    const res = await list({ search: ['a/w'] });
    expect(res.body.data.count).toBe(2);
    // "2.0" is in tag 2.0 and in namespace ubuntu:22.04, literally.
    const dot = await list({ search: ['2.0'], sort: { field: 'tag' } });
    expect(dot.body.data.docs.map((d: { tag: string }) => d.tag)).toEqual(['2.0', '3']);
    // "." is not "any character": as a regular expression "a.w" would match "alpha/web"... never here.
    expect((await list({ search: ['a.w'] })).body.data.count).toBe(0);
    expect((await list({ search: ['1.0'] })).body.data.docs.map((d: { tag: string }) => d.tag)).toEqual(['1.0']);
  });

  it('When the registry is unknown, then 5004', async () => {
    const res = await list({ repository: '10.9.9.9:5000' });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe(5004);
  });
});

describe('GET /api/scanner', () => {
  it('When an image is asked for, then it comes back with the seed fields, name host:port/image:tag and namespace', async () => {
    const res = await request(app).get('/api/scanner').query({ repository: key, image: 'alpha/web', tag: 'latest' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      repository: key,
      image: 'alpha/web',
      tag: 'latest',
      name: `${key}/alpha/web:latest`,
      namespace: 'debian:12',
      digest: D1,
      critical: 1,
      high: 1,
      medium: 1,
      low: 1,
      negligible: 1,
      unknown: 1,
      packages: 20,
      score: (10 + 9 + 5 + 3 + 2 + 1) / (10 * 20),
      scanStatus: 'done',
      updated_at: '2026-01-02T00:00:00.000Z',
    });
  });

  it('When an image was never scanned, then it shows pending with a null score', async () => {
    const res = await request(app).get('/api/scanner').query({ repository: key, image: 'delta/cache', tag: 'edge' });
    expect(res.body.data).toMatchObject({ scanStatus: 'pending', score: null, namespace: null, packages: 0 });
  });

  it.each([
    ['registry', { repository: '10.9.9.9:5000', image: 'alpha/web', tag: 'latest' }],
    ['image', { repository: 'KEY', image: 'nope/nope', tag: 'latest' }],
    ['tag', { repository: 'KEY', image: 'alpha/web', tag: 'nope' }],
  ])('When the %s is unknown, then 5004', async (_n, q) => {
    const res = await request(app)
      .get('/api/scanner')
      .query({ ...q, repository: q.repository === 'KEY' ? key : q.repository });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe(5004);
  });
});

describe('POST /api/scanner/image', () => {
  const findings = (body: object) =>
    request(app)
      .post('/api/scanner/image')
      .send({ repository: key, image: 'alpha/web', tag: 'latest', ...body });
  const cves = (r: request.Response) => r.body.data.docs.map((d: { cveId: string }) => d.cveId);

  it('When an image is asked for, then its findings come back with the seed fields', async () => {
    const res = await findings({ sort: { field: 'cveId', order: 'asc' }, pagination: { from: 0, size: 1 } });
    expect(res.status).toBe(200);
    expect(res.headers['x-total-count']).toBe('6');
    expect(res.body.data).toEqual({
      count: 6,
      docs: [
        {
          cveId: 'CVE-2019-0006',
          description: 'CVE-2019-0006 in coreutils',
          link: 'https://security-tracker.debian.org/tracker/CVE-2019-0006',
          level: 'Unknown',
          type: 'coreutils',
          versionFormat: 'dpkg',
          version: '1.0-1',
          fixedBy: '',
          repository: key,
          image: 'alpha/web',
          tag: 'latest',
          created_at: '2026-01-02T00:00:00.000Z',
          updated_at: '2026-01-02T00:00:00.000Z',
          suppressed: false,
        },
      ],
    });
  });

  it('When two tags share a digest, then both list the same findings', async () => {
    const a = await findings({ pagination: { size: 500 }, sort: { field: 'cveId' } });
    const b = await request(app)
      .post('/api/scanner/image')
      .send({ repository: key, image: 'alpha/web', tag: '1.0', pagination: { size: 500 }, sort: { field: 'cveId' } });
    const strip = (r: request.Response) => r.body.data.docs.map(({ tag: _t, ...d }: { tag: string }) => d);
    expect(strip(a)).toEqual(strip(b));
    expect(a.body.data.count).toBe(6);
  });

  it('When sorted by level, then the order is by severity, not alphabet (desc, dasc and asc)', async () => {
    const bySeverity = [
      'CVE-2024-0001',
      'CVE-2023-0002',
      'CVE-2022-0003',
      'CVE-2021-0004',
      'CVE-2020-0005',
      'CVE-2019-0006',
    ];
    expect(cves(await findings({ sort: { field: 'level', order: 'desc' } }))).toEqual(bySeverity);
    expect(cves(await findings({ sort: { field: 'level', order: 'dasc' } }))).toEqual(bySeverity);
    expect(cves(await findings({ sort: { field: 'level', order: 'asc' } }))).toEqual([...bySeverity].reverse());
  });

  it.each([
    ['cveId', ['CVE-2019-0006', 'CVE-2020-0005', 'CVE-2021-0004', 'CVE-2022-0003', 'CVE-2023-0002', 'CVE-2024-0001']],
    ['type', ['CVE-2020-0005', 'CVE-2019-0006', 'CVE-2021-0004', 'CVE-2023-0002', 'CVE-2022-0003', 'CVE-2024-0001']],
  ])('When sorted by %s, then asc and desc follow it (ties by _id)', async (field, asc) => {
    expect(cves(await findings({ sort: { field, order: 'asc' } }))).toEqual(asc);
    expect(cves(await findings({ sort: { field, order: 'desc' } }))).toEqual([...asc].reverse());
  });

  it('When searching, then terms match cveId, package, level, version or description, case-insensitively, all of them', async () => {
    expect(cves(await findings({ search: ['cve-2024'] }))).toEqual(['CVE-2024-0001']);
    expect(cves(await findings({ search: ['LIBSSL3'], sort: { field: 'cveId' } }))).toEqual([
      'CVE-2022-0003',
      'CVE-2023-0002',
    ]);
    expect(cves(await findings({ search: ['negligible'] }))).toEqual(['CVE-2020-0005']);
    expect(cves(await findings({ search: ['~deb12u2'] }))).toEqual(['CVE-2023-0002']);
    expect(cves(await findings({ search: ['in coreutils'] }))).toEqual(['CVE-2019-0006']);
    expect(cves(await findings({ search: ['libssl3', 'high'] }))).toEqual(['CVE-2023-0002']);
    expect(cves(await findings({ search: ['libssl3', 'critical'] }))).toEqual([]);
  });

  it.each([
    ['(', ['CVE-2022-0003']],
    ['parse()', ['CVE-2022-0003']],
    ['[heap]', ['CVE-2022-0003']],
    ['\\', ['CVE-2022-0003']],
    ['.*', []],
    ['[', ['CVE-2022-0003']],
    ['c.e', []],
  ])('When the search term is %j, then it matches only literally and never errors', async (term, expected) => {
    const res = await findings({ search: [term] });
    expect(res.status).toBe(200);
    expect(cves(res)).toEqual(expected);
  });

  it('When paging, then from/size cut the list and count and X-Total-Count give the total', async () => {
    const res = await findings({ sort: { field: 'level', order: 'desc' }, pagination: { from: 4, size: 10 } });
    expect(cves(res)).toEqual(['CVE-2020-0005', 'CVE-2019-0006']);
    expect(res.body.data.count).toBe(6);
    expect(res.headers['x-total-count']).toBe('6');
  });

  describe('after a later scan of the digest', () => {
    // These store new reports; the data every other test reads is put back after each.
    afterEach(seed);

    it('When sorted by created_at or updated_at, then a finding first seen later sorts after the others', async () => {
      const later = new Date('2026-02-01T00:00:00Z');
      const stored = await storeReport(
        D1,
        { ...REPORT1, findings: [...REPORT1.findings, f('CVE-2025-9999', 'Low', 'tar')] },
        { batchSize: 100, now: later },
        ctx,
      );
      await applySummary(D1, stored.summary, DEFAULT_WEIGHTS, later);
      for (const field of ['created_at', 'updated_at']) {
        const desc = cves(await findings({ sort: { field, order: 'desc' } }));
        const asc = cves(await findings({ sort: { field, order: 'asc' } }));
        expect(asc).toHaveLength(7);
        if (field === 'created_at') {
          expect(desc[0]).toBe('CVE-2025-9999');
          expect(asc[6]).toBe('CVE-2025-9999');
        } else expect(asc).toEqual([...desc].reverse());
      }
    });

    it('When a finding is no longer reported, then it leaves the list and the counts follow', async () => {
      const now = new Date('2026-03-01T00:00:00Z');
      const stored = await storeReport(
        D1,
        { ...REPORT1, findings: REPORT1.findings.slice(1) },
        { batchSize: 100, now },
        ctx,
      );
      await applySummary(D1, stored.summary, DEFAULT_WEIGHTS, now);
      // Only what changed is written: the five reported again unchanged are not touched.
      expect(stored).toMatchObject({ inserted: 0, updated: 0, fixed: 1 });
      const res = await findings({ pagination: { size: 500 } });
      expect(res.body.data.count).toBe(5);
      expect(cves(res)).not.toContain('CVE-2024-0001');
      const img = await request(app).get('/api/scanner').query({ repository: key, image: 'alpha/web', tag: '1.0' });
      expect(img.body.data).toMatchObject({ critical: 0, high: 1, score: (9 + 5 + 3 + 2 + 1) / (10 * 20) });
      // Reported again unchanged: updated_at is when a finding last changed, so it stays.
      const stamps = await mongoose.connection
        .db!.collection('findings')
        .find({ digest: D1 }, { projection: { _id: 0, cveId: 1, updated_at: 1, created_at: 1 } })
        .sort({ cveId: 1 })
        .toArray();
      const first = new Date('2026-01-02T00:00:00Z');
      expect(stamps.map((d) => [d.cveId, d.created_at, d.updated_at])).toEqual([
        ['CVE-2019-0006', first, first],
        ['CVE-2020-0005', first, first],
        ['CVE-2021-0004', first, first],
        ['CVE-2022-0003', first, first],
        ['CVE-2023-0002', first, first],
        ['CVE-2024-0001', first, first],
      ]);
      // Kept, with fixedAt (history), not deleted.
      expect(await mongoose.connection.db!.collection('findings').countDocuments({ digest: D1, fixedAt: now })).toBe(1);
    });
  });

  it('When the image was never scanned, then the list is empty', async () => {
    const res = await request(app)
      .post('/api/scanner/image')
      .send({ repository: key, image: 'delta/cache', tag: 'edge' });
    expect(res.body.data).toEqual({ docs: [], count: 0 });
  });

  it.each([
    ['registry', { repository: '10.9.9.9:5000' }],
    ['image', { image: 'nope/nope' }],
    ['tag', { tag: 'nope' }],
  ])('When the %s is unknown, then 5004', async (_n, body) => {
    const res = await findings(body);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe(5004);
  });
});

describe('bad input to every scanner endpoint', () => {
  const long = 'x'.repeat(201);
  const eleven = Array.from({ length: 11 }, (_, i) => `t${i}`);
  const cases: Array<[string, 'post' | 'get', string, Record<string, unknown>, RegExp]> = [
    [
      'size 0',
      'post',
      '/api/scanner',
      { pagination: { size: 0 } },
      /body\.pagination\.size: must be between 1 and 500/,
    ],
    [
      'size 501',
      'post',
      '/api/scanner',
      { pagination: { size: 501 } },
      /body\.pagination\.size: must be between 1 and 500/,
    ],
    ['from -1', 'post', '/api/scanner', { pagination: { from: -1 } }, /body\.pagination\.from/],
    [
      'from as a string',
      'post',
      '/api/scanner',
      { pagination: { from: '1' } },
      /body\.pagination\.from: must be a number/,
    ],
    ['size 1.5', 'post', '/api/scanner', { pagination: { size: 1.5 } }, /body\.pagination\.size: must be an integer/],
    [
      'bad order',
      'post',
      '/api/scanner',
      { sort: { field: 'score', order: 'up' } },
      /body\.sort\.order: must be "asc" or "desc"/,
    ],
    ['unknown sort field', 'post', '/api/scanner', { sort: { field: 'digest' } }, /body\.sort\.field: must be one of/],
    ['11 search terms', 'post', '/api/scanner', { search: eleven }, /body\.search: must hold at most 10 terms/],
    ['a 201-char term', 'post', '/api/scanner', { search: [long] }, /body\.search\.0: must be at most 200 characters/],
    ['search as a string', 'post', '/api/scanner', { search: 'alpha' }, /body\.search: must be an array of strings/],
    ['a number term', 'post', '/api/scanner', { search: [1] }, /body\.search\.0: must be a string/],
    ['{"$gt":1} as repository', 'post', '/api/scanner', { repository: { $gt: 1 } }, /body\.repository/],
    ['an unknown key', 'post', '/api/scanner', { foo: 1 }, /foo/],
    ['an unknown key in sort', 'post', '/api/scanner', { sort: { field: 'score', $where: '1' } }, /\$where/],
    ['no image', 'post', '/api/scanner/image', { repository: 'r:1', tag: 't' }, /body\.image/],
    [
      'image as an object',
      'post',
      '/api/scanner/image',
      { repository: 'r:1', image: { $ne: '' }, tag: 't' },
      /body\.image/,
    ],
    ['tag {"$gt":1}', 'post', '/api/scanner/image', { repository: 'r:1', image: 'a', tag: { $gt: 1 } }, /body\.tag/],
    [
      'level sorted "up"',
      'post',
      '/api/scanner/image',
      { repository: 'r:1', image: 'a', tag: 't', sort: { field: 'level', order: 'up' } },
      /body\.sort\.order/,
    ],
    [
      'an unknown finding sort field',
      'post',
      '/api/scanner/image',
      { repository: 'r:1', image: 'a', tag: 't', sort: { field: 'score' } },
      /body\.sort\.field: must be one of created_at, updated_at, cveId, level, type/,
    ],
    [
      'size 501 (findings)',
      'post',
      '/api/scanner/image',
      { repository: 'r:1', image: 'a', tag: 't', pagination: { size: 501 } },
      /body\.pagination\.size/,
    ],
    [
      '11 terms (findings)',
      'post',
      '/api/scanner/image',
      { repository: 'r:1', image: 'a', tag: 't', search: eleven },
      /body\.search/,
    ],
    [
      'a 201-char term (findings)',
      'post',
      '/api/scanner/image',
      { repository: 'r:1', image: 'a', tag: 't', search: [long] },
      /body\.search\.0/,
    ],
    ['an unknown key (findings)', 'post', '/api/scanner/image', { repository: 'r:1', image: 'a', tag: 't', x: 1 }, /x/],
    // No repository at all is scan-all (issue 5); an empty one is refused.
    ['an empty repository', 'post', '/api/scanner/scan', { repository: ' ' }, /body\.repository: must not be empty/],
    ['repository {"$gt":1}', 'post', '/api/scanner/scan', { repository: { $gt: 1 } }, /body\.repository/],
    [
      'a tag without image',
      'post',
      '/api/scanner/scan',
      { repository: 'r:1', tag: 'latest' },
      /body\.tag: tag needs image/,
    ],
    [
      'force "yes"',
      'post',
      '/api/scanner/scan',
      { repository: 'r:1', force: 'yes' },
      /body\.force: must be true or false/,
    ],
    ['an unknown key (scan)', 'post', '/api/scanner/scan', { repository: 'r:1', all: true }, /all/],
    ['an uppercase image name', 'post', '/api/scanner/scan', { repository: 'r:1', image: 'Bad/Name' }, /body\.image/],
    ['GET without tag', 'get', '/api/scanner', { repository: 'r:1', image: 'a' }, /query\.tag/],
    ['GET with an unknown parameter', 'get', '/api/scanner', { repository: 'r:1', image: 'a', tag: 't', x: '1' }, /x/],
    ['GET jobs with an unknown parameter', 'get', '/api/scanner/jobs', { registry: 'r:1' }, /registry/],
  ];

  it.each(cases)(
    'When %s is sent, then 5003/400 names the field and nothing is written',
    async (_n, method, path, input, why) => {
      const before = await counts();
      const res =
        method === 'get' ? await request(app).get(path).query(input) : await request(app).post(path).send(input);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(5003);
      expect(res.body.data).toMatch(why);
      expect(await counts()).toEqual(before);
    },
  );

  it('When the body is not JSON, then 5003', async () => {
    const res = await request(app).post('/api/scanner').set('content-type', 'application/json').send('{"search": [');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(5003);
  });
});

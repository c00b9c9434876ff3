import request from 'supertest';
import { IMAGE_SORT_FIELDS } from '../../src/modules/images/image.model';
import { FINDING_SORT_FIELDS } from '../../src/modules/scanner/finding.model';
import { CVE_SORT_FIELDS } from '../../src/modules/vulnerabilities/cve-summary.model';
import { drainDirty } from '../../src/modules/vulnerabilities';
import {
  buildFinding,
  digestOf,
  discoverTags,
  scanDigest,
  seedRegistry,
  testCtx,
} from '../factories/scan-report.factory';
import { buildTestApp } from '../helpers/app';
import {
  captureQueries,
  checkQueries,
  declaredIndexes,
  describe as describeQuery,
  indexName,
  servedPrefix,
  type CapturedQuery,
} from '../helpers/query-plan';
import { useTestDb } from '../helpers/test-db';

useTestDb({ clearEach: false });

/**
 * Issue 16 item 4: every query the API sends is served by a declared index (equality, then sort,
 * then range, on an index prefix), checked against the models' declared indexes since FerretDB 1.x
 * plans no secondary index. Every read operation of the API is driven with every sort field, with
 * and without a registry filter and a search term; the queries are captured through mongoose.
 */
describe('every API query is served by a declared index', () => {
  const A = digestOf(0xa1);
  const B = digestOf(0xb2);
  let key: string;
  let captured: CapturedQuery[] = [];

  beforeAll(async () => {
    key = await seedRegistry('10.9.0.1', 5000);
    await discoverTags(key, [
      { image: 'team/app', tag: '1', digest: A },
      { image: 'team/web', tag: '1', digest: B },
    ]);
    await scanDigest(A, [buildFinding({ cveId: 'CVE-2024-0001', level: 'High', type: 'openssl' })]);
    await scanDigest(B, [buildFinding({ cveId: 'CVE-2024-0002', level: 'Low', type: 'zlib' })]);
    await drainDirty(50, testCtx);

    const { app } = buildTestApp({ SCAN_WORKER: 'false', SCHEDULER: 'false' });
    const capture = captureQueries();
    const ok = async (res: request.Response) => {
      expect([200, 202]).toContain(res.status);
      return res;
    };
    try {
      await ok(await request(app).get('/api/score'));
      await ok(await request(app).get('/api/repository'));
      for (const field of IMAGE_SORT_FIELDS) {
        for (const order of ['asc', 'desc']) {
          for (const extra of [{}, { repository: key }, { search: ['app'] }, { repository: key, search: ['app'] }]) {
            await ok(
              await request(app)
                .post('/api/scanner')
                .send({ sort: { field, order }, ...extra }),
            );
          }
        }
      }
      await ok(await request(app).get('/api/scanner').query({ repository: key, image: 'team/app', tag: '1' }));
      for (const field of Object.keys(FINDING_SORT_FIELDS)) {
        for (const search of [[], ['openssl']]) {
          await ok(
            await request(app)
              .post('/api/scanner/image')
              .send({ repository: key, image: 'team/app', tag: '1', sort: { field, order: 'desc' }, search }),
          );
        }
      }
      await ok(await request(app).get('/api/scanner/jobs'));
      for (const field of Object.keys(CVE_SORT_FIELDS)) {
        for (const extra of [{}, { repository: key }, { search: ['CVE-2024'] }]) {
          await ok(
            await request(app)
              .post('/api/vulnerabilities')
              .send({ sort: { field, order: 'asc' }, ...extra }),
          );
        }
      }
      await ok(await request(app).get('/api/vulnerabilities/CVE-2024-0001/images'));
      await ok(await request(app).get('/api/vulnerabilities/CVE-2024-0001/images').query({ repository: key }));
      await ok(await request(app).get('/api/scanner/history').query({ repository: key, image: 'team/app', tag: '1' }));
      await ok(await request(app).get('/api/suppressions'));
      await ok(await request(app).get('/api/suppressions').query({ cveId: 'CVE-2024-0001', active: 'true' }));
      await ok(await request(app).get('/api/alerts/webhooks'));
      await ok(await request(app).get('/api/scanner/schedule'));
    } finally {
      captured = capture.stop();
    }
  });

  it('When the API lists, reads and pages, then no query needs a collection scan or an in-memory sort', () => {
    expect(captured.length).toBeGreaterThan(100);
    const { unserved, checked, used } = checkQueries(captured);
    expect(checked).toBeGreaterThan(50);
    // Which declared indexes no captured query uses: reported for pruning (every write maintains them all).
    const unused: string[] = [];
    for (const [collection, list] of declaredIndexes()) {
      for (const idx of list) {
        if (idx[0][0] === '_id') continue;
        if (!used.get(collection)?.has(indexName(idx))) unused.push(`${collection}.${indexName(idx)}`);
      }
    }
    process.stdout.write(
      `query-plan: ${checked} queries checked; declared indexes no API query used: ${unused.join(', ') || 'none'}\n`,
    );
    const lines = [...new Set(unserved.map(describeQuery))];
    expect(lines).toEqual([]);
  });

  it('When a query filters or sorts on what no index leads with, then the checker reports it (it can fail)', () => {
    const f = (eq: string[], range: string[] = []) => ({ eq: new Set(eq), range: new Set(range) });
    // Equality, sort, range in order: served.
    expect(
      servedPrefix(
        [
          ['present', 1],
          ['score', 1],
          ['_id', 1],
        ],
        f(['present']),
        [
          ['score', -1],
          ['_id', -1],
        ],
      ),
    ).toBe(3);
    // Sort in the wrong direction mix: the index cannot give it.
    expect(
      servedPrefix(
        [
          ['present', 1],
          ['score', 1],
          ['_id', 1],
        ],
        f(['present']),
        [
          ['score', 1],
          ['_id', -1],
        ],
      ),
    ).toBe(-1);
    // The sort field is not next after the equalities: an in-memory sort.
    expect(
      servedPrefix(
        [
          ['repository', 1],
          ['present', 1],
          ['score', 1],
        ],
        f(['present']),
        [['score', 1]],
      ),
    ).toBe(-1);
    const { unserved } = checkQueries([
      { collection: 'images', op: 'find', filter: { namespace: 'debian:12' }, sort: [] },
      { collection: 'images', op: 'find', filter: { present: true }, sort: [['packages', 1]] },
    ]);
    expect(unserved.map((u) => u.query.filter)).toEqual([{ namespace: 'debian:12' }, { present: true }]);
  });
});

import mongoose from 'mongoose';
import request from 'supertest';
import { serverInfo } from '../../src/db/batch';
import { ImageModel, rescoreAll } from '../../src/modules/images';
import { CveDirtyModel } from '../../src/modules/vulnerabilities/cve-summary.model';
import { markCvesDirty } from '../../src/modules/vulnerabilities/cve-summaries';
import { createLogger } from '../../src/logger';
import { buildImage, insertImages } from '../factories/image.factory';
import { buildTestApp } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';

useTestDb();

const ctx = { log: createLogger('silent') };

/** Rejects when `p` has not settled within `ms`: a hung database fails the test instead of hanging it. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (database stalled?)`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

describe('Multi-statement writes (src/db/batch.ts)', () => {
  it('When the server is asked, then FerretDB is told apart from MongoDB by its buildInfo', async () => {
    const info = await serverInfo();
    const raw = await mongoose.connection.db!.admin().command({ buildInfo: 1 });
    const ferret = Object.keys(raw).some((k) => k.toLowerCase().startsWith('ferretdb'));
    expect(info.ferretdb).toBe(ferret);
    if (ferret) {
      expect(info.maxStatements).toBeLessThan(50);
      expect(info.updatePipelines).toBe(false);
    } else {
      expect(info.maxStatements).toBeGreaterThanOrEqual(500);
    }
  });

  it('When 100 scanned images change score in one re-score of batch size 1000, then it completes and every score is written', async () => {
    await insertImages(
      Array.from({ length: 100 }, (_, i) => buildImage({ image: `r${i}`, high: 1, packages: 1, score: 0 })),
    );
    const changed = await within(
      rescoreAll({ critical: 10, high: 9, medium: 5, low: 3, negligible: 2, unknown: 1 }, 1000, ctx),
      30_000,
      're-score of 100 images',
    );
    expect(changed).toBe(100);
    expect(await ImageModel.countDocuments({ score: 0.9 })).toBe(100);
  });

  it('When 100 existing CVE markers are marked again (100 updates of matched documents), then it completes and each is bumped', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `CVE-2026-${1000 + i}`);
    await within(markCvesDirty(ids), 30_000, 'first marking');
    await within(markCvesDirty(ids), 30_000, 'second marking');
    const markers = await CveDirtyModel.find({}).lean<Array<{ v: number }>>();
    expect(markers).toHaveLength(100);
    expect(markers.every((m) => m.v === 2)).toBe(true);
  });

  it('When a weight change re-scores 100 images through the API, then the database still answers reads afterwards', async () => {
    const { app } = buildTestApp({ RESCORE_BATCH_SIZE: '1000' });
    await insertImages(
      Array.from({ length: 100 }, (_, i) => buildImage({ image: `a${i}`, low: 2, packages: 4, score: 0 })),
    );
    const put = await within(request(app).put('/api/score').send({ low: 4 }), 30_000, 'PUT /api/score');
    expect(put.status).toBe(200);
    const get = await within(request(app).get('/api/score'), 10_000, 'GET /api/score after the re-score');
    expect(get.body.data.low).toBe(4);
    expect(await ImageModel.countDocuments({ score: 0.2 })).toBe(100);
  });
});

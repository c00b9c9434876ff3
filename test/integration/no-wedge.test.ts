import request from 'supertest';
import { insertManyCapped } from '../../src/db/batch';
import { ImageModel } from '../../src/modules/images';
import { scannerFrom } from '../../src/modules/scanner';
import { buildImage } from '../factories/image.factory';
import { buildTestApp } from '../helpers/app';
import { MT, buildLayer, pushImage, pushManifest } from '../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/**
 * Issue 16's stall: on the embedded FerretDB a second discovery of 400 unchanged tags wedged the
 * database (one update command of 200 statements), and every later query waited for ever. Here a
 * re-discovery of 400 unchanged tags (through scan-all), a re-score of 500 images and API reads
 * run at once; each must finish, and GET /api/score must keep answering. Durations are measured by
 * the bench (npm run bench -- pipeline), not asserted here: the deadlines only turn a hang into a failure.
 */
let registry: RegistryProcess;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
});

const REPOS = 40;
const TAGS_PER_REPO = 10;
// FerretDB 1.x on SQLite updates one document at a time, tens of ms each on a busy CI machine: the
// 5,000-image re-score is timed by the bench (npm run bench -- embedded); here 500 keep the test short.
const IMAGES = 500;
const REPLY_DEADLINE_MS = 10_000;

function within<T>(p: PromiseLike<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (database stalled?)`)), ms);
  });
  return Promise.race([Promise.resolve(p), deadline]).finally(() => clearTimeout(timer));
}

describe('No wedge on the embedded database', () => {
  it('When a re-discovery of 400 unchanged tags, a re-score of 500 images and API reads run at once, then all finish and GET /api/score keeps answering', async () => {
    for (let r = 0; r < REPOS; r++) {
      const img = await pushImage(registry.url, `team-${r}/app`, ['t0'], [buildLayer({ 'etc/hostname': `r${r}\n` })]);
      for (let t = 1; t < TAGS_PER_REPO; t++)
        await pushManifest(registry.url, `team-${r}/app`, `t${t}`, img.manifest, MT.ociManifest);
    }
    const t = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '5000', RESCORE_BATCH_SIZE: '1000' });
    const created = await request(t.app).post('/api/repository').send({ repository: '127.0.0.1', port: registry.port });
    expect(created.body.code).toBe(0);
    const key = created.body.data.key as string;
    const scanner = scannerFrom(t.deps);
    const first = await within(
      scanner.service.discover({ repository: key }, { log: t.logger }),
      120_000,
      'first discovery',
    );
    expect(first).toMatchObject({ tags: REPOS * TAGS_PER_REPO, platformImages: REPOS * TAGS_PER_REPO });
    await insertManyCapped(
      ImageModel.collection,
      Array.from({ length: IMAGES }, (_, i) =>
        buildImage({ repository: '10.0.0.9:5000', image: `bulk-${i}`, high: 1 + (i % 5), packages: 20, score: 0 }),
      ),
    );

    let reading = true;
    const answered: number[] = [];
    const reads = (async () => {
      while (reading) {
        const res = await within(request(t.app).get('/api/score'), REPLY_DEADLINE_MS, 'GET /api/score');
        expect(res.status).toBe(200);
        answered.push(res.status);
        const list = await within(
          request(t.app)
            .post('/api/scanner')
            .send({ pagination: { from: 0, size: 20 }, sort: { field: 'score', order: 'desc' }, search: [] }),
          REPLY_DEADLINE_MS,
          'POST /api/scanner',
        );
        expect(list.status).toBe(200);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const scanAll = await request(t.app).post('/api/scanner/scan').send({});
    expect(scanAll.status).toBe(202);
    expect(scanAll.body.data.started).toBe(1);
    const rescore = request(t.app).put('/api/score').send({ high: 7 });

    const [put] = await within(Promise.all([rescore, scanner.service.idle()]), 180_000, 're-score and re-discovery');
    reading = false;
    await reads;

    expect(put.status).toBe(200);
    expect(answered.length).toBeGreaterThan(0);
    expect(await ImageModel.countDocuments({ repository: '10.0.0.9:5000', score: { $gt: 0 } })).toBe(IMAGES);
    const progress = await scanner.service.progress(key);
    expect(progress.lastDiscovery).toMatchObject({ error: null, tags: REPOS * TAGS_PER_REPO });
    expect(await ImageModel.countDocuments({ repository: key, present: true })).toBe(REPOS * TAGS_PER_REPO);
  }, 300_000);
});

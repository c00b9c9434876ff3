import request from 'supertest';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { LEVELS } from '../src/domain/severity';
import { ImageModel } from '../src/modules/images';
import { log, report, timeIt } from './lib';

/** Seeds `count` scanned images with random counts through bulk inserts. */
export async function seedImages(count: number, registries = 10): Promise<void> {
  const batch = 5000;
  for (let i = 0; i < count; i += batch) {
    const docs = [];
    for (let j = i; j < Math.min(count, i + batch); j++) {
      const d: Record<string, unknown> = {
        repository: `10.0.0.${j % registries}:5000`,
        image: `team-${j % 97}/app-${j}`,
        tag: `v${j % 13}`,
        platform: 'linux/amd64',
        digest: `sha256:${j.toString(16).padStart(64, '0')}`,
        namespace: j % 3 ? 'debian:12' : 'ubuntu:22.04',
        packages: 50 + (j % 400),
        score: 0,
        scanStatus: 'done',
        created_at: new Date(Date.now() - j * 1000),
        updated_at: new Date(),
      };
      for (const l of LEVELS) d[l] = Math.floor(Math.random() * 40);
      docs.push(d);
    }
    await ImageModel.collection.insertMany(docs, { ordered: false });
  }
}

/** Issue 2: re-score of all images after a weight change, and GET /api/score latency. */
export async function scoreBench(images: number): Promise<void> {
  const config = loadConfig({ LOG_LEVEL: 'silent' });
  const app = createApp({ config, logger: log.child({}, { level: 'silent' }) });

  const t0 = Date.now();
  await seedImages(images);
  report(`seed ${images} images (insertMany, 5000 per batch)`, `${Date.now() - t0} ms`);

  for (const low of [4, 5]) {
    const s = Date.now();
    const res = await request(app).put('/api/score').send({ low });
    if (res.body.code !== 0) throw new Error(`PUT /api/score failed: ${JSON.stringify(res.body)}`);
    report(`PUT /api/score re-scoring ${images} images (run ${low - 3})`, `${Date.now() - s} ms`);
  }

  const agent = request(app);
  const { p50, p99 } = await timeIt(1000, () => agent.get('/api/score'));
  report('GET /api/score x1000', `p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
}

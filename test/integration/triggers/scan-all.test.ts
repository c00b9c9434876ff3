import request from 'supertest';
import { createScheduler } from '../../../src/jobs/scheduler';
import { ImageModel } from '../../../src/modules/images';
import { scannerFrom, ScanJobModel } from '../../../src/modules/scanner';
import { schedulesServiceFrom } from '../../../src/modules/schedules';
import { buildTestApp } from '../../helpers/app';
import { testCtx } from '../../helpers/fakes/ctx';
import { buildLayer, pushImage } from '../../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../../helpers/registry-process';
import { useTestDb } from '../../helpers/test-db';

useTestDb();

let a: RegistryProcess;
let b: RegistryProcess;
beforeAll(async () => {
  [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  await pushImage(a.url, 'team/one', ['1'], [buildLayer({ 'one.txt': '1' })]);
  await pushImage(b.url, 'team/two', ['2'], [buildLayer({ 'two.txt': '2' })]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

async function appWithTwoRegistries() {
  const built = buildTestApp();
  for (const r of [a, b])
    await request(built.app).post('/api/repository').send({ repository: '127.0.0.1', port: r.port });
  return built;
}

it('When POST /api/scanner/scan has no repository, then 202 lists every registry and each is discovered and queued', async () => {
  const { app, deps } = await appWithTwoRegistries();

  const res = await request(app).post('/api/scanner/scan').send({});
  await scannerFrom(deps).service.idle();

  expect(res.status).toBe(202);
  expect(res.body.data).toEqual({
    all: true,
    started: 2,
    registries: expect.arrayContaining([
      { repository: `127.0.0.1:${a.port}`, started: true },
      { repository: `127.0.0.1:${b.port}`, started: true },
    ]),
  });
  expect((await ImageModel.find({}, { image: 1, _id: 0 }).sort({ image: 1 }).lean()).map((i) => i.image)).toEqual([
    'team/one',
    'team/two',
  ]);
  expect(await ScanJobModel.countDocuments({ state: 'queued' })).toBe(2);
});

it('When scan-all names an image without a registry, then 5003', async () => {
  const { app } = buildTestApp();

  const res = await request(app).post('/api/scanner/scan').send({ image: 'team/one' });

  expect(res.status).toBe(400);
  expect(res.body.data).toMatch(/image needs repository/);
});

it('When the global schedule fires through the real scanner, then every registry is discovered', async () => {
  const { deps, logger } = await appWithTwoRegistries();
  await schedulesServiceFrom(deps).updateGlobal({ cron: '0 * * * *' }, testCtx(), new Date('2026-03-01T09:59:00Z'));
  const scheduler = createScheduler({
    schedules: schedulesServiceFrom(deps),
    scanner: scannerFrom(deps).service,
    logger,
    instance: 'solo',
    tickMs: 60_000,
  });

  const fired = await scheduler.tick(new Date('2026-03-01T10:00:02Z'));
  await scannerFrom(deps).service.idle();

  expect(fired).toEqual([
    expect.objectContaining({
      kind: 'global',
      started: expect.arrayContaining([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]),
    }),
  ]);
  expect(await ImageModel.countDocuments()).toBe(2);
});

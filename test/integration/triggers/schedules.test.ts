import request from 'supertest';
import { createScheduler, type FiredSlot, type Scheduler } from '../../../src/jobs/scheduler';
import { createLogger } from '../../../src/logger';
import { RegistryModel } from '../../../src/modules/registries';
import { createSchedulesService, ScheduleModel } from '../../../src/modules/schedules';
import type { ScannerService } from '../../../src/modules/scanner';
import { testCtx } from '../../helpers/fakes/ctx';
import { buildTestApp } from '../../helpers/app';
import { freePort } from '../../helpers/registry-process';
import { useTestDb } from '../../helpers/test-db';

useTestDb();

const at = (iso: string) => new Date(`2026-03-01T${iso}Z`);

/** What the scheduler asked the scanner to start, per instance. */
function recordingScanner(calls: string[], instance: string): Pick<ScannerService, 'scanAll' | 'scanRegistry'> {
  return {
    async scanAll() {
      calls.push(`${instance}:all`);
      return { all: true, started: 0, registries: [] };
    },
    async scanRegistry(repository) {
      calls.push(`${instance}:${repository}`);
      return { repository, started: true };
    },
  };
}

function twoInstances(scanAllDefault?: string): { a: Scheduler; b: Scheduler; calls: string[] } {
  const calls: string[] = [];
  const logger = createLogger('silent');
  const make = (instance: string) =>
    createScheduler({
      schedules: createSchedulesService({ timezone: 'UTC', scanAllDefault }),
      scanner: recordingScanner(calls, instance),
      logger,
      instance,
      tickMs: 60_000,
    });
  return { a: make('instance-a'), b: make('instance-b'), calls };
}

/** Both instances tick at the same instant, as two processes sharing the database would. */
async function tickBoth(s: { a: Scheduler; b: Scheduler }, now: Date): Promise<FiredSlot[]> {
  const [x, y] = await Promise.all([s.a.tick(now), s.b.tick(now)]);
  return [...x, ...y];
}

describe('global scan-all schedule', () => {
  it('When two schedulers with different instance ids tick every slot together, then exactly one fires each slot', async () => {
    await createSchedulesService({ timezone: 'UTC' }).updateGlobal({ cron: '*/5 * * * *' }, testCtx(), at('00:02:00'));
    const s = twoInstances();

    expect(await tickBoth(s, at('00:04:59'))).toEqual([]);
    for (const slot of ['00:05:00', '00:10:00', '00:15:00', '00:20:00', '00:25:00']) {
      const fired = await tickBoth(s, new Date(at(slot).getTime() + 1500));
      expect(fired).toHaveLength(1);
      expect(fired[0]).toMatchObject({ kind: 'global', slot: at(slot), cron: '*/5 * * * *' });
      // Ticking again inside the same slot fires nothing.
      expect(await tickBoth(s, new Date(at(slot).getTime() + 60_000))).toEqual([]);
    }
    expect(s.calls.filter((c) => c.endsWith(':all'))).toHaveLength(5);
    const doc = await ScheduleModel.findById('global').lean();
    expect(doc?.lastSlot).toEqual(at('00:25:00'));
    expect(['instance-a', 'instance-b']).toContain(doc?.lastFiredBy);
  });

  it('When every instance was down for several slots, then only the latest missed slot fires, once', async () => {
    await createSchedulesService({ timezone: 'UTC' }).updateGlobal({ cron: '*/5 * * * *' }, testCtx(), at('00:02:00'));
    const s = twoInstances();

    const fired = await tickBoth(s, at('00:31:00'));

    expect(fired).toHaveLength(1);
    expect(fired[0]!.slot).toEqual(at('00:30:00'));
    expect(await tickBoth(s, at('00:34:00'))).toEqual([]);
    expect(s.calls).toHaveLength(1);
  });

  it('When the schedule is set or changed, then its current slot counts as fired and only the next one fires', async () => {
    const s = twoInstances();
    const schedules = createSchedulesService({ timezone: 'UTC' });
    await schedules.updateGlobal({ cron: '0 * * * *' }, testCtx(), at('03:30:00'));
    expect(await tickBoth(s, at('03:31:00'))).toEqual([]);

    await schedules.updateGlobal({ cron: '*/10 * * * *' }, testCtx(), at('03:35:00'));
    expect(await tickBoth(s, at('03:36:00'))).toEqual([]);
    expect(await tickBoth(s, at('03:40:00'))).toHaveLength(1);

    await schedules.updateGlobal({ cron: '' }, testCtx(), at('03:41:00'));
    expect(await tickBoth(s, at('04:00:00'))).toEqual([]);
  });

  it('When SCAN_ALL_SCHEDULE is configured and the API never set one, then it is armed at first and fires from the next slot', async () => {
    const s = twoInstances('0 */2 * * *');

    expect(await tickBoth(s, at('05:00:00'))).toEqual([]);
    const fired = await tickBoth(s, at('06:00:01'));

    expect(fired).toEqual([expect.objectContaining({ kind: 'global', slot: at('06:00:00') })]);
    expect(await ScheduleModel.findById('global').lean()).toMatchObject({ source: 'config', cron: '0 */2 * * *' });
  });
});

describe('GET/PUT /api/scanner/schedule', () => {
  it('When a cron is PUT, then GET shows it with its next run; "" turns it off', async () => {
    const { app } = buildTestApp({ SCHEDULE_TIMEZONE: 'UTC' });

    const put = await request(app).put('/api/scanner/schedule').send({ cron: '0 3 * * *' });
    const got = await request(app).get('/api/scanner/schedule');
    const off = await request(app).put('/api/scanner/schedule').send({ cron: '' });

    expect(put.status).toBe(200);
    expect(put.body.data).toMatchObject({ cron: '0 3 * * *', enabled: true, source: 'api', timezone: 'UTC' });
    expect(got.body.data.cron).toBe('0 3 * * *');
    expect(got.body.data.nextRun).toMatch(/T03:00:00\.000Z$/);
    expect(off.body.data).toMatchObject({ cron: '', enabled: false, nextRun: null });
  });

  it('When the cron is invalid, then 5003 names body.cron and the stored schedule is unchanged', async () => {
    const { app } = buildTestApp();
    await request(app).put('/api/scanner/schedule').send({ cron: '0 3 * * *' });

    const bad = await request(app).put('/api/scanner/schedule').send({ cron: '61 * * * *' });
    const fields = await request(app).put('/api/scanner/schedule').send({ cron: '* * *' });

    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 5003, message: 'paramException' });
    expect(bad.body.data).toMatch(/^body\.cron: "61 \* \* \* \*" is not a valid cron expression/);
    expect(fields.body.data).toMatch(/body\.cron: .*must have 5 fields/);
    expect((await ScheduleModel.findById('global').lean())?.cron).toBe('0 3 * * *');
  });
});

describe('per-registry schedules', () => {
  it('When a registry is created with an invalid schedule, then 5003 names body.schedule and nothing is stored', async () => {
    const { app } = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '500' });
    const port = await freePort();

    const res = await request(app)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port, schedule: 'every day' });

    expect(res.status).toBe(400);
    expect(res.body.code).toBe(5003);
    expect(res.body.data).toMatch(/^body\.schedule: "every day"/);
    expect(await RegistryModel.countDocuments()).toBe(0);
  });

  it('When a registry has a schedule, then it is shown, an update to an invalid one is refused, and two schedulers fire each slot once', async () => {
    const { app } = buildTestApp({ REGISTRY_TEST_TIMEOUT_MS: '500' });
    const port = await freePort();
    const created = await request(app)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port, schedule: '30 2 * * *' });
    expect(created.body.data.schedule).toBe('30 2 * * *');
    const key = `127.0.0.1:${port}`;

    const bad = await request(app)
      .put('/api/repository')
      .send({ repository: '127.0.0.1', port, schedule: '0 0 32 * *' });
    expect(bad.status).toBe(400);
    expect(bad.body.data).toMatch(/^body\.schedule: "0 0 32 \* \*"/);
    expect((await RegistryModel.findOne({ key }).lean())?.schedule).toBe('30 2 * * *');

    const s = twoInstances();
    // First sight arms the schedule: yesterday's 02:30 does not fire now.
    expect(await tickBoth(s, at('10:00:00'))).toEqual([]);
    const fired = await tickBoth(s, new Date('2026-03-02T02:30:05Z'));
    expect(fired).toEqual([expect.objectContaining({ kind: 'registry', repository: key, started: [key] })]);
    expect(await tickBoth(s, new Date('2026-03-02T02:31:00Z'))).toEqual([]);
    expect(s.calls).toHaveLength(1);

    // A changed schedule is re-armed, not fired at once.
    await request(app).put('/api/repository').send({ repository: '127.0.0.1', port, schedule: '*/15 * * * *' });
    expect(await tickBoth(s, new Date('2026-03-02T02:40:00Z'))).toEqual([]);
    expect(await tickBoth(s, new Date('2026-03-02T02:45:00Z'))).toHaveLength(1);
  });
});

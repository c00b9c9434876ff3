import mongoose from 'mongoose';
import request from 'supertest';
import { connectMongo } from '../../src/db/mongo';
import { createLogger } from '../../src/logger';
import { opsService } from '../../src/modules/ops';
import { buildTestApp } from '../helpers/app';
import { useTestDb } from '../helpers/test-db';

const db = useTestDb();

describe('GET /healthz', () => {
  it('When the process runs, then it answers 200 alive in the envelope', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 0, data: { status: 'alive' }, message: 'ok' });
    expect(res.headers['x-request-id']).toBeDefined();
  });
});

describe('GET /readyz', () => {
  it('When the database answers and no Clair client is wired, then 200 with clair null', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 0, data: { database: true, clair: null, auth: 'open' }, message: 'ok' });
  });

  it('When API_TOKENS or only API_READ_TOKENS is set, then auth is "token"; with neither, "open"', async () => {
    const envs: Array<Record<string, string>> = [
      { API_TOKENS: 'full-token-0123456789' },
      { API_READ_TOKENS: 'read-token-0123456789' },
    ];
    for (const env of envs) {
      const res = await request(buildTestApp(env).app).get('/readyz');
      expect(res.body.data.auth).toBe('token');
    }
    expect((await request(buildTestApp().app).get('/readyz')).body.data.auth).toBe('open');
  });

  it('When Clair answers, then clair is true', async () => {
    const { app } = buildTestApp({}, { clairPing: async () => true });
    const res = await request(app).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ database: true, clair: true, auth: 'open' });
  });

  it('When Clair is down (the ping fails), then it is reported as false and the service is still ready', async () => {
    const { app } = buildTestApp(
      {},
      {
        clairPing: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:6060');
        },
      },
    );
    const res = await request(app).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 0, data: { database: true, clair: false, auth: 'open' }, message: 'ok' });
  });

  it('When the Clair ping hangs, then readiness gives up after the timeout and reports false', async () => {
    const hang = () => new Promise<boolean>(() => undefined);
    const t0 = Date.now();
    const ready = await opsService.readiness({ clairPing: hang, timeoutMs: 500 }, { log: createLogger('silent') });
    expect(ready).toEqual({ database: true, clair: false, auth: 'open', databaseProblem: null });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('When the database is disconnected, then 503 with code 5005 and the Clair state in the detail', async () => {
    const { app } = buildTestApp({}, { clairPing: async () => true });
    await mongoose.disconnect();
    try {
      const res = await request(app).get('/readyz');
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        code: 5005,
        data: 'not ready: the database does not answer a read: the database connection is closed (clair: reachable)',
        message: 'dbException',
      });
    } finally {
      await connectMongo(process.env.MONGO_TEST_URI!, createLogger('silent'), { dbName: db.dbName });
    }
    expect((await request(app).get('/readyz')).status).toBe(200);
  });
});

describe('GET /metrics', () => {
  it('When /api/score was called, then the histogram has a line labelled with its route pattern, method and status', async () => {
    // Arrange
    const { app } = buildTestApp();
    await request(app).get('/api/score?x=1').expect(200);
    await request(app).put('/api/score').send({ low: -1 }).expect(400);
    await request(app).get('/api/nothing/here').expect(404);

    // Act
    const res = await request(app).get('/metrics');

    // Assert
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.text;
    expect(text).toMatch(
      /^vulnscan_http_request_duration_seconds_count\{method="GET",route="\/api\/score",status="200"\} [1-9]/m,
    );
    expect(text).toMatch(
      /^vulnscan_http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/api\/score",status="200"\}/m,
    );
    // A failed request keeps its route (the router restores baseUrl before the error handler runs).
    expect(text).toMatch(/method="PUT",route="\/api\/score",status="400"/);
    // Unknown URLs share one label instead of one time series per URL.
    expect(text).toMatch(/method="GET",route="\(unmatched\)",status="404"/);
    expect(text).not.toContain('/api/nothing/here');
    expect(text).not.toContain('x=1');
  });

  it('When scraped, then default process metrics and the scan, Clair and registry metrics are exposed', async () => {
    const { app } = buildTestApp();
    const res = await request(app).get('/metrics');
    for (const name of [
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'vulnscan_scan_jobs',
      'vulnscan_scan_duration_seconds',
      'vulnscan_clair_errors_total',
      'vulnscan_registry_errors_total',
    ]) {
      expect(res.text).toContain(`# TYPE ${name} `);
    }
  });
});

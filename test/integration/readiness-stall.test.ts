import mongoose from 'mongoose';
import request from 'supertest';
import { connectMongo, disconnectMongo } from '../../src/db/mongo';
import { createLogger } from '../../src/logger';
import { buildTestApp } from '../helpers/app';
import { startStallingProxy, type StallingProxy } from '../helpers/stalling-mongo-proxy';

/**
 * A database that still answers `ping` but no longer answers queries (a wedged storage engine, a
 * lock, a proxy gone half-dead) must not be reported ready: /readyz runs a real, bounded read.
 */
let proxy: StallingProxy;
const dbName = `t_ready_${Date.now().toString(36)}`;

beforeAll(async () => {
  const target = new URL(process.env.MONGO_TEST_URI!);
  proxy = await startStallingProxy({ host: target.hostname, port: Number(target.port) });
  const uri = proxy.uri.replace('/?', `/${dbName}?`);
  await connectMongo(uri, createLogger('silent'));
});

afterAll(async () => {
  proxy.release();
  await mongoose.connection.dropDatabase().catch(() => undefined);
  await disconnectMongo();
  await proxy.close();
});

describe('GET /readyz when the database answers ping but not queries', () => {
  it('When reads are answered, then 200; when only reads stall, then 503 5005 naming the read, while ping still works', async () => {
    const { app } = buildTestApp();
    expect((await request(app).get('/readyz')).body).toEqual({
      code: 0,
      data: { database: true, clair: null, auth: 'open' },
      message: 'ok',
    });

    proxy.stall(['find']);
    try {
      const pingWorks = await mongoose.connection.db!.command({ ping: 1 });
      const res = await request(app).get('/readyz');

      expect(pingWorks.ok).toBe(1);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        code: 5005,
        data: expect.stringMatching(/^not ready: the database does not answer a read: .+ \(clair: not configured\)$/),
        message: 'dbException',
      });
      expect(proxy.seen).toContain('find');
    } finally {
      proxy.release();
    }

    expect((await request(app).get('/readyz')).status).toBe(200);
  });
});

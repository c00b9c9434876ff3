import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import request from 'supertest';
import { startEmbeddedMongo } from '../../src/db/embedded';
import { createLogger } from '../../src/logger';
import { start } from '../../src/server';

describe('server start and stop', () => {
  it('When started with MONGODB_URI and port 0, then it answers /api/score and stop() closes it gracefully', async () => {
    const uri = new URL(process.env.MONGO_TEST_URI!);
    uri.pathname = '/t_server_start';
    const running = await start({ MONGODB_URI: uri.toString(), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });
    try {
      const res = await request(running.server).get('/api/score');
      expect(res.body.code).toBe(0);
      expect(running.embedded).toBeNull();
    } finally {
      const t0 = Date.now();
      await running.stop('test');
      expect(Date.now() - t0).toBeLessThan(10_000);
    }
    expect(running.server.listening).toBe(false);
    // stop() is idempotent.
    await expect(running.stop('again')).resolves.toBeUndefined();
  });

  it('When a request is in flight at stop(), then it still completes', async () => {
    const uri = new URL(process.env.MONGO_TEST_URI!);
    uri.pathname = '/t_server_inflight';
    const running = await start({ MONGODB_URI: uri.toString(), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });
    // Stop only once the server has the request: a fixed pause lost the race on a loaded machine
    // (the connection was refused, ECONNRESET, before the request was ever in flight).
    const arrived = new Promise<void>((r) => running.server.once('request', () => r()));
    const pending = request(running.server).put('/api/score').send({ low: 5 });
    const answer = pending.then((r) => r.body.code);
    await arrived;
    await running.stop('test');
    await expect(answer).resolves.toBe(0);
  });

  it('When a configuration value is bad, then start fails naming the key', async () => {
    await expect(start({ PORT: 'abc' })).rejects.toThrow(/PORT/);
  });
});

describe('embedded database', () => {
  it('When the embedded server restarts on the same data directory, then stored data is still there', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vulnscan-embedded-'));
    const log = createLogger('silent');
    const first = await startEmbeddedMongo({ dataDir: dir, port: 0, log, mongodTimeoutMs: 20_000 });
    let client = await MongoClient.connect(first.uri);
    await client.db('persist').collection('c').insertOne({ kept: true });
    await client.close();
    await first.stop();

    const second = await startEmbeddedMongo({ dataDir: dir, port: 0, log, mongodTimeoutMs: 20_000 });
    client = await MongoClient.connect(second.uri);
    try {
      const doc = await client.db('persist').collection('c').findOne({ kept: true });
      expect(doc?.kept).toBe(true);
      expect(second.dataDir?.startsWith(dir)).toBe(true);
    } finally {
      await client.close();
      await second.stop();
    }
  });
});

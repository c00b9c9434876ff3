import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startEmbeddedMongo } from '../../src/db/embedded';
import { createLogger } from '../../src/logger';

/**
 * Chooses the test database server once for the whole run: MONGO_TEST_URI or MONGODB_URI when set
 * (CI exports the FerretDB it started), else mongodb-memory-server, else FerretDB on a free port.
 * Each test file then uses its own database on that server (see test-db.ts).
 */
export default async function globalSetup(): Promise<void> {
  const given = process.env.MONGO_TEST_URI || process.env.MONGODB_URI;
  if (given) {
    process.env.MONGO_TEST_URI = given;
    return;
  }
  const log = createLogger(process.env.TEST_LOG_LEVEL || 'warn');
  const dir = mkdtempSync(path.join(tmpdir(), 'vulnscan-test-'));
  const server = await startEmbeddedMongo({ dataDir: null, port: 0, log, mongodTimeoutMs: 20_000 }).catch(async () =>
    startEmbeddedMongo({ dataDir: dir, port: 0, log, mongodTimeoutMs: 1 }),
  );
  process.env.MONGO_TEST_URI = server.uri;
  (globalThis as { __TEST_MONGO__?: typeof server }).__TEST_MONGO__ = server;
}

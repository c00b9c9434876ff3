import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { connectMongo } from '../../src/db/mongo';
import { createLogger } from '../../src/logger';

/**
 * Connects this test file to its own database on the server chosen by global-setup, empties every
 * collection before each test (unless `clearEach` is false: a file that seeds once and reads), and
 * drops the database after the file.
 */
export function useTestDb(opts: { clearEach?: boolean } = {}): { dbName: string } {
  const state = { dbName: `t_${randomBytes(5).toString('hex')}` };
  beforeAll(async () => {
    const uri = process.env.MONGO_TEST_URI;
    if (!uri) throw new Error('MONGO_TEST_URI is not set: integration tests run through jest global-setup');
    await connectMongo(uri, createLogger('silent'), { dbName: state.dbName });
  });
  beforeEach(async () => {
    if (opts.clearEach === false) return;
    const collections = await mongoose.connection.db!.collections();
    await Promise.all(collections.map((c) => c.deleteMany({})));
  });
  afterAll(async () => {
    await mongoose.connection.dropDatabase().catch(() => undefined);
    await mongoose.disconnect();
  });
  return state;
}

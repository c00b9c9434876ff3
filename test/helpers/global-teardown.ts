import type { EmbeddedMongo } from '../../src/db/embedded';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __TEST_MONGO__?: EmbeddedMongo }).__TEST_MONGO__;
  if (server) await server.stop();
}

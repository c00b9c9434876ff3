import e2eTeardown from '../e2e/global-teardown';

/** Stops what the setup started; the e2e teardown may have stopped it already (both are idempotent enough). */
export default async function globalTeardown(): Promise<void> {
  const g = globalThis as { __TEST_CLAIR__?: unknown; __TEST_MONGO__?: unknown };
  if (!g.__TEST_CLAIR__ && !g.__TEST_MONGO__) return;
  try {
    await e2eTeardown();
  } finally {
    delete g.__TEST_CLAIR__;
    delete g.__TEST_MONGO__;
  }
}

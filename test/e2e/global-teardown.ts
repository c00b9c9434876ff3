import mongoTeardown from '../helpers/global-teardown';
import type { ClairProcess } from '../helpers/clair-process';

export default async function globalTeardown(): Promise<void> {
  const g = globalThis as { __TEST_CLAIR__?: ClairProcess };
  try {
    if (g.__TEST_CLAIR__) await g.__TEST_CLAIR__.stop();
  } finally {
    await mongoTeardown();
  }
}

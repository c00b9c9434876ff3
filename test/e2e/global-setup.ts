import mongoSetup from '../helpers/global-setup';
import { CLAIR_FIXTURE, startClair, type ClairProcess } from '../helpers/clair-process';

/**
 * e2e runs against a real Clair v4: CLAIR_TEST_URL when set (it must already hold the fixture's
 * vulnerabilities), else one started here on a fresh PostgreSQL database with the fixture imported.
 * The test MongoDB is chosen the same way as for the integration project.
 */
export default async function globalSetup(): Promise<void> {
  await mongoSetup();
  if (process.env.CLAIR_TEST_URL) return;
  const clair = await startClair({ imports: [CLAIR_FIXTURE] });
  process.stderr.write(
    `\n[e2e] Clair ${clair.url} (db ${clair.database}): binaries ${clair.timings.binaries} ms, ` +
      `start ${clair.timings.start} ms, import ${clair.timings.import} ms\n`,
  );
  process.env.CLAIR_TEST_URL = clair.url;
  // Tests that need a Clair of their own (another config) may start one: binaries and PostgreSQL are here.
  process.env.CLAIR_TEST_LOCAL = '1';
  (globalThis as { __TEST_CLAIR__?: ClairProcess }).__TEST_CLAIR__ = clair;
}

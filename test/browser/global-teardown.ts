import e2eTeardown from '../e2e/global-teardown';

/** Stops Clair and the database only when this project's setup started them (not reused from e2e). */
export default async function globalTeardown(): Promise<void> {
  const g = globalThis as { __BROWSER_STARTED_SERVICES__?: boolean };
  if (g.__BROWSER_STARTED_SERVICES__) await e2eTeardown();
}

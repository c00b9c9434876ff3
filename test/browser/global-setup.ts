import { execFileSync } from 'node:child_process';
import path from 'node:path';
import e2eSetup from '../e2e/global-setup';

/**
 * The browser tier needs what e2e needs (the test database and a real Clair; when the e2e project
 * ran its setup first, both are reused through the environment) plus a fresh build of the console,
 * so the tests always drive the current web/ sources.
 */
export default async function globalSetup(): Promise<void> {
  const reused = Boolean(process.env.MONGO_TEST_URI && process.env.CLAIR_TEST_URL);
  await e2eSetup();
  (globalThis as { __BROWSER_STARTED_SERVICES__?: boolean }).__BROWSER_STARTED_SERVICES__ = !reused;
  const root = path.resolve(__dirname, '..', '..');
  const started = Date.now();
  execFileSync(
    process.execPath,
    [
      path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '--config',
      'web/vite.config.mts',
      '--logLevel',
      'warn',
    ],
    {
      cwd: root,
      // Jest sets NODE_ENV=test, which would make Vite bundle React's development build.
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  process.stderr.write(`[browser] console built in ${Date.now() - started} ms\n`);
}

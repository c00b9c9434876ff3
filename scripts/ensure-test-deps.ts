import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { ensureClairBinaries } from './ensure-clair';
import { ensureFerretBinary } from '../src/db/embedded';
import { createLogger } from '../src/logger';

/**
 * `npm test`'s pretest step (and what .ci/run relies on): provisions what the test tiers need on a
 * fresh Debian/Ubuntu machine, or says in ONE line what is missing and how to get it.
 *
 * - Debian's `docker-registry` and `htpasswd` (registry processes in the integration tier);
 * - Debian's `chromium` and a CJK font (the browser tier);
 * - PostgreSQL answering on 127.0.0.1:5432 as `postgres` without a password, and `psql` (Clair's database);
 * - the Clair and FerretDB binaries, built once from tools/ with Go and cached under ~/.cache/vulnscan.
 *
 * As root with apt-get it installs the packages and starts PostgreSQL; otherwise it only checks.
 * VULNSCAN_SKIP_TEST_DEPS=1 skips everything (a machine provisioned another way).
 */

const say = (msg: string) => process.stderr.write(`[test-deps] ${msg}\n`);
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 600_000 });
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const canApt = isRoot && has('apt-get');

let aptUpdated = false;
function aptInstall(pkgs: string[]): boolean {
  if (!canApt || !pkgs.length) return false;
  say(`installing ${pkgs.join(' ')} (apt-get)`);
  if (!aptUpdated) {
    run('apt-get', ['update', '-qq']);
    aptUpdated = true;
  }
  const r = run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], {
    DEBIAN_FRONTEND: 'noninteractive',
  });
  return r.status === 0;
}

/** True when Debian's package `pkg` is installed (false where there is no dpkg). */
const debInstalled = (pkg: string) =>
  run('dpkg-query', ['-W', '-f=${Status}', pkg]).stdout?.includes('install ok installed') ?? false;

const pgReady = () => has('pg_isready') && run('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-q']).status === 0;

/** Starts every installed PostgreSQL cluster (Debian's pg_ctlcluster); waits up to 30 s for 127.0.0.1:5432. */
function startPostgres(): void {
  if (!existsSync('/etc/postgresql') || !has('pg_ctlcluster')) return;
  for (const version of readdirSync('/etc/postgresql')) {
    run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']);
  }
  for (let i = 0; i < 60 && !pgReady(); i++) spawnSync('sleep', ['0.5']);
}

/** A cluster we just installed: let the tests connect as postgres over loopback without a password. */
function trustLoopback(): void {
  if (!existsSync('/etc/postgresql')) return;
  for (const version of readdirSync('/etc/postgresql')) {
    const hba = `/etc/postgresql/${version}/main/pg_hba.conf`;
    if (!existsSync(hba)) continue;
    const text = readFileSync(hba, 'utf8');
    const rule = 'host all postgres 127.0.0.1/32 trust';
    if (!text.includes(rule)) writeFileSync(hba, `${rule}\n${text}`);
  }
}

function main(): void {
  if (process.env.VULNSCAN_SKIP_TEST_DEPS === '1') return;
  const missing: string[] = [];

  // System packages.
  const pkgs: Array<[cmd: string, pkg: string]> = [
    ['docker-registry', 'docker-registry'],
    ['htpasswd', 'apache2-utils'],
    ['psql', 'postgresql-client'],
  ];
  // The browser tier (test/browser) drives Debian's chromium through playwright-core; a CJK font makes
  // the Chinese screens render (CHROMIUM_PATH names another browser and skips both).
  if (!process.env.CHROMIUM_PATH) pkgs.push(['chromium', 'chromium']);
  const absent = pkgs.filter(([cmd]) => !has(cmd));
  const wantFont = !process.env.CHROMIUM_PATH && !debInstalled('fonts-wqy-zenhei');
  const toInstall = [...absent.map(([, pkg]) => pkg), ...(wantFont ? ['fonts-wqy-zenhei'] : [])];
  if (toInstall.length) aptInstall(toInstall);
  for (const [cmd, pkg] of absent) if (!has(cmd)) missing.push(`${cmd} (apt-get install ${pkg})`);
  if (wantFont && !debInstalled('fonts-wqy-zenhei')) missing.push('a CJK font (apt-get install fonts-wqy-zenhei)');

  // PostgreSQL for Clair; an external one on 127.0.0.1:5432 counts too.
  if (!pgReady()) {
    if (!existsSync('/etc/postgresql') && aptInstall(['postgresql'])) trustLoopback();
    if (isRoot) startPostgres();
    if (!pgReady()) {
      missing.push(
        'PostgreSQL on 127.0.0.1:5432 with trust auth for postgres (apt-get install postgresql; pg_ctlcluster <version> main start)',
      );
    }
  }

  // Binaries built from tools/ (Go module proxy), cached; a cold build takes a few minutes.
  try {
    ensureFerretBinary(createLogger('warn'));
  } catch (e) {
    missing.push(`the FerretDB binary (${(e as Error).message}; install Go >= 1.24)`);
  }
  try {
    ensureClairBinaries((what) => say(`${what} (first run only, a few minutes)`));
  } catch (e) {
    missing.push(`the Clair binaries (${(e as Error).message})`);
  }

  if (missing.length) {
    // One line, then stop: jest would otherwise print a wall of failures for one missing tool.
    process.stderr.write(
      `npm test needs: ${missing.join('; ')}${isRoot ? '' : ' (run as root to let npm test install them)'}; see docs/testing.md\n`,
    );
    process.exit(1);
  }
}

main();

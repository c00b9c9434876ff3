import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureClairBinaries } from '../../scripts/ensure-clair';
import { freePort, stopProcess } from './registry-process';

/** The vulnerability data every e2e run imports (claircore JSON lines, updater `fixture-debian`). */
export const CLAIR_FIXTURE = path.resolve(__dirname, '..', 'fixtures', 'clair', 'debian-fixture.jsonl');

export interface ClairProcess {
  /** API base, http://127.0.0.1:<port> */
  url: string;
  /** Introspection base (/readyz, /metrics). */
  introspectionUrl: string;
  database: string;
  configPath: string;
  logPath: string;
  /** Milliseconds each step took (build, start, import), for the docs and slow-run diagnosis. */
  timings: Record<string, number>;
  stop(): Promise<void>;
}

export interface ClairProcessOptions {
  /** PSK auth section (base64 key, allowed issuers). */
  psk?: { key: string; issuers: string[] };
  /** JSON-lines files to import with clairctl once Clair has migrated its database. */
  imports?: string[];
  readyTimeoutMs?: number;
}

const PG = {
  host: process.env.CLAIR_TEST_PGHOST || '127.0.0.1',
  port: process.env.CLAIR_TEST_PGPORT || '5432',
  user: process.env.CLAIR_TEST_PGUSER || 'postgres',
};

/**
 * Runs one SQL statement as the PostgreSQL superuser, bounded: DROP DATABASE waits until every
 * backend on the server has absorbed a signal barrier, and one stuck backend (a client that stopped
 * reading) makes it wait forever. statement_timeout cancels the wait; the process timeout backs it up.
 */
function psql(sql: string, database = 'postgres', timeoutMs = 30_000): void {
  const r = spawnSync(
    'psql',
    ['-h', PG.host, '-p', PG.port, '-U', PG.user, '-d', database, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql],
    {
      encoding: 'utf8',
      timeout: timeoutMs + 5_000,
      env: { ...process.env, PGCONNECT_TIMEOUT: '5', PGOPTIONS: `-c statement_timeout=${timeoutMs}` },
    },
  );
  if (r.error) throw new Error(`psql failed to run (${sql.slice(0, 60)}): ${r.error.message}`);
  if (r.status !== 0) {
    const hint = /statement timeout/.test(r.stderr)
      ? 'another session keeps it waiting (see docs/testing.md, "DROP DATABASE hung")'
      : `is PostgreSQL running on ${PG.host}:${PG.port} with trust auth for ${PG.user}?`;
    throw new Error(`psql failed (${sql.slice(0, 60)}): ${r.stderr.trim()} — ${hint}`);
  }
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts a real Clair v4 in combo mode on loopback: a fresh PostgreSQL database, a minimal config
 * (airgap, no updaters), waits for /readyz, then imports vulnerability files with clairctl.
 */
export async function startClair(opts: ClairProcessOptions = {}): Promise<ClairProcess> {
  const timings: Record<string, number> = {};
  let t = Date.now();
  const bins = ensureClairBinaries((m) => process.stderr.write(`[clair] ${m}\n`));
  timings.binaries = Date.now() - t;

  const database = `clair_test_${randomBytes(5).toString('hex')}`;
  psql(`CREATE DATABASE ${database}`);
  psql('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"', database);
  const dropDatabase = () => {
    try {
      psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`, 'postgres', 15_000);
    } catch (e) {
      // A leftover database must not fail or hang the run; say how to remove it.
      process.stderr.write(`[clair] could not drop database ${database}: ${(e as Error).message.split('\n')[0]}\n`);
    }
  };

  const dir = mkdtempSync(path.join(tmpdir(), 'vulnscan-clair-'));
  const [apiPort, introPort] = [await freePort(), await freePort()];
  // Red Hat's repository scanners fetch a name→CPE mapping from access.redhat.com when configured
  // without a file; air-gapped, that fails every index ("rhel: unable to create a mappingFile
  // object"), even for Debian layers. Empty mapping files keep them offline.
  const repo2cpe = path.join(dir, 'repo2cpe.json');
  const name2repos = path.join(dir, 'name2repos.json');
  writeFileSync(repo2cpe, '{"data":{}}');
  writeFileSync(name2repos, '{"data":{}}');
  const conn = `host=${PG.host} port=${PG.port} user=${PG.user} dbname=${database} sslmode=disable pool_max_conns=8`;
  // Only keys Clair knows: since 4.7 unknown keys stop it at start.
  const config = {
    http_listen_addr: `127.0.0.1:${apiPort}`,
    introspection_addr: `127.0.0.1:${introPort}`,
    log_level: 'info',
    indexer: {
      connstring: conn,
      migrations: true,
      airgap: true,
      scanner: {
        repo: { 'rhel-repository-scanner': { repo2cpe_mapping_file: repo2cpe } },
        package: { rhel_containerscanner: { name2repos_mapping_file: name2repos } },
      },
    },
    matcher: { connstring: conn, migrations: true, disable_updaters: true },
    updaters: { sets: [] },
    notifier: { connstring: conn, migrations: true },
    ...(opts.psk ? { auth: { psk: { key: opts.psk.key, iss: opts.psk.issuers } } } : {}),
  };
  const configPath = path.join(dir, 'config.json');
  // JSON is YAML; Clair picks the decoder from the extension.
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const logPath = path.join(dir, 'clair.log');
  const log = createWriteStream(logPath);

  t = Date.now();
  const child: ChildProcess = spawn(bins.clair, ['-conf', configPath, '-mode', 'combo'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' },
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const stop = async () => {
    await stopProcess(child);
    log.end();
    dropDatabase();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const url = `http://127.0.0.1:${apiPort}`;
    const introspectionUrl = `http://127.0.0.1:${introPort}`;
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
    for (;;) {
      if (child.exitCode !== null) throw new Error(`clair exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error('clair did not become ready (GET /readyz) in time');
      const ready = await fetch(`${introspectionUrl}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    timings.start = Date.now() - t;

    t = Date.now();
    for (const file of opts.imports ?? []) {
      // clairctl writes to the matcher database directly; it runs no migrations, so Clair must be up first.
      const r = spawnSync(bins.clairctl, ['-c', configPath, 'import-updaters', file], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`clairctl import-updaters ${file} failed: ${(r.stderr || '').trim()}`);
    }
    timings.import = Date.now() - t;
    return { url, introspectionUrl, database, configPath, logPath, timings, stop };
  } catch (e) {
    const detail = tail(logPath);
    await stop().catch(() => undefined);
    throw new Error(`${(e as Error).message}\n--- clair log ---\n${detail}`, { cause: e });
  }
}

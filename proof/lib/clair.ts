import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ensureClairBinaries } from '../../scripts/ensure-clair';
import { CLAIR_FIXTURE, startClair as startClairProcess } from '../../test/helpers/clair-process';
import { spawnProc, waitFor, type Proc } from './proc';

export interface ClairProcess {
  url: string;
  introspectionUrl: string;
  database: string;
  /** SIGKILLs the running Clair. */
  kill(): Promise<void>;
  /** Starts Clair again with the same config (same ports, same PostgreSQL database, data kept). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The pid of the process whose command line holds `needle` (Clair started by the test helper). */
function findPid(needle: string): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd.includes(needle) && cmd.includes('combo')) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

/**
 * A real Clair v4 (test/helpers/clair-process.ts: fresh PostgreSQL database on 127.0.0.1:5432,
 * fixture vulnerabilities imported) that can be SIGKILLed and restarted on the same config and data.
 */
export async function startClair(workDir: string): Promise<ClairProcess> {
  const first = await startClairProcess({ imports: [CLAIR_FIXTURE] });
  const bins = ensureClairBinaries(() => undefined);
  let restarted: Proc | null = null;
  const ready = () =>
    waitFor('Clair /readyz', async () => (await fetch(`${first.introspectionUrl}/readyz`)).status === 200, 60_000, 100);
  const kill = async () => {
    if (restarted) return restarted.kill('SIGKILL');
    const pid = findPid(first.configPath);
    if (!pid) throw new Error('the running Clair was not found');
    process.kill(pid, 'SIGKILL');
    await waitFor('Clair to exit', () => findPid(first.configPath) === null, 10_000, 50);
  };
  return {
    url: first.url,
    introspectionUrl: first.introspectionUrl,
    database: first.database,
    kill,
    async restart() {
      if (restarted) restarted.restart();
      else
        restarted = spawnProc('clair', bins.clair, ['-conf', first.configPath, '-mode', 'combo'], {
          logPath: path.join(workDir, 'clair-restarted.log'),
          env: { ...process.env, HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' },
        });
      await ready();
    },
    async stop() {
      if (restarted) await restarted.kill('SIGTERM');
      // Stops the first process if still running, drops the database and removes the config.
      await first.stop();
    },
  };
}

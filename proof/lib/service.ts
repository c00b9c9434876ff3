import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../test/helpers/registry-process';
import { rssBytes, spawnProc, waitFor, type Proc } from './proc';

export const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Builds dist/ once per proof run: proof/run.ts builds and sets PROOF_BUILT=1; a proof started on
 * its own builds here (unless dist/server.js exists and PROOF_REBUILD is not set).
 */
export function ensureBuilt(): void {
  if (process.env.PROOF_BUILT === '1') return;
  if (existsSync(path.join(ROOT, 'dist', 'server.js')) && process.env.PROOF_REBUILD !== '1') return;
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
  process.env.PROOF_BUILT = '1';
}

export interface ServiceProcess {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  proc: Proc;
  get pid(): number | undefined;
  /** Resident set size in bytes (null when not running). */
  rss(): number | null;
  /** SIGTERM (graceful, SIGKILL after the grace) or SIGKILL. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again with the same environment and port; resolves when /healthz answers 200. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the built service (`node dist/server.js`) as a real child process on a fixed free port,
 * with `env` added to a minimal environment; resolves when GET /healthz answers 200.
 */
export async function startService(
  workDir: string,
  env: Record<string, string>,
  opts: { name?: string; readyTimeoutMs?: number } = {},
): Promise<ServiceProcess> {
  ensureBuilt();
  const name = opts.name ?? 'service';
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const childEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
    DATA_DIR: path.join(workDir, `${name}-data`),
    ...env,
  };
  const proc = spawnProc(name, process.execPath, [path.join(ROOT, 'dist', 'server.js')], {
    logPath: path.join(workDir, `${name}.log`),
    env: childEnv,
    cwd: ROOT,
  });
  const healthy = () =>
    waitFor(
      `${name} to answer GET /healthz`,
      async () => {
        if (!proc.alive) throw new Error(`${name} exited: ${proc.tail(15)}`);
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
        return res.status === 200;
      },
      opts.readyTimeoutMs ?? 60_000,
      100,
    );
  await healthy();
  return {
    url,
    port,
    proc,
    get pid() {
      return proc.child.pid;
    },
    rss: () => (proc.alive && proc.child.pid ? rssBytes(proc.child.pid) : null),
    kill: (signal = 'SIGKILL') => proc.kill(signal, 15_000),
    async restart() {
      proc.restart();
      await healthy();
    },
    stop: () => proc.kill('SIGTERM', 15_000),
  };
}

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ensureFerretBinary } from '../../src/db/embedded';
import { createLogger } from '../../src/logger';
import { freePort } from '../../test/helpers/registry-process';
import { spawnProc, waitFor, type Proc } from './proc';

export interface FerretProcess {
  uri: string;
  port: number;
  dataDir: string;
  proc: Proc;
  /** SIGKILLs the server (no shutdown of any kind). */
  kill(): Promise<void>;
  /** Starts it again on the same port and data directory; resolves once it prints READY again. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the real FerretDB wrapper (tools/ferretdb, built or reused by ensureFerretBinary) on a fixed
 * free port and its own data directory, so it can be killed and restarted on the same data.
 */
export async function startFerret(workDir: string): Promise<FerretProcess> {
  const bin = ensureFerretBinary(createLogger('warn'));
  const port = await freePort();
  const dataDir = path.join(workDir, 'ferretdb');
  mkdirSync(dataDir, { recursive: true });
  let out = '';
  const proc = spawnProc('ferretdb', bin, ['-listen', `127.0.0.1:${port}`, '-data', dataDir], {
    logPath: path.join(workDir, 'ferretdb.log'),
    onStdout: (s) => (out += s),
  });
  const ready = async () => {
    await waitFor(
      'FerretDB to print READY',
      () => {
        if (!proc.alive) throw new Error(`ferretdb exited: ${proc.tail(10)}`);
        return /^READY /m.test(out);
      },
      60_000,
      50,
    );
  };
  await ready();
  const uri = /^READY (\S+)/m.exec(out)![1];
  return {
    uri,
    port,
    dataDir,
    proc,
    kill: () => proc.kill('SIGKILL'),
    async restart() {
      out = '';
      proc.restart();
      await ready();
    },
    stop: () => proc.kill('SIGTERM'),
  };
}

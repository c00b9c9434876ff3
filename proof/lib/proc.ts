import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';

/**
 * One real child process whose output goes to a log file, which a proof can SIGKILL and start again
 * with the same command line (so on the same port and data). `exited` settles when it is gone.
 */
export interface Proc {
  readonly name: string;
  readonly logPath: string;
  child: ChildProcess;
  /** Resolves with the exit code (or signal) of the current child. */
  exited: Promise<string>;
  get alive(): boolean;
  /** Sends `signal` and waits until the process is gone (SIGKILL after `graceMs` for other signals). */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** Starts the same command again (after a kill). */
  restart(): void;
  /** The last `lines` lines of its log, for a failure message. */
  tail(lines?: number): string;
}

export function spawnProc(
  name: string,
  cmd: string,
  args: string[],
  opts: { logPath: string; env?: NodeJS.ProcessEnv; cwd?: string; onStdout?: (chunk: string) => void },
): Proc {
  const log: WriteStream = createWriteStream(opts.logPath, { flags: 'a' });
  const spawnOpts: SpawnOptions = {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  };
  const launch = () => {
    const child = spawn(cmd, args, spawnOpts);
    child.stdout?.on('data', (b: Buffer) => {
      log.write(b);
      opts.onStdout?.(b.toString());
    });
    child.stderr?.on('data', (b: Buffer) => log.write(b));
    const exited = new Promise<string>((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ?? String(code))),
    );
    // A spawn failure (binary missing) also ends the process.
    child.once('error', (err) => log.write(`[proof] spawn error: ${err.message}\n`));
    return { child, exited };
  };
  let current = launch();
  const proc: Proc = {
    name,
    logPath: opts.logPath,
    get child() {
      return current.child;
    },
    set child(_c) {
      throw new Error('read-only');
    },
    get exited() {
      return current.exited;
    },
    set exited(_e) {
      throw new Error('read-only');
    },
    get alive() {
      return current.child.exitCode === null && current.child.signalCode === null;
    },
    async kill(signal = 'SIGKILL', graceMs = 5000) {
      if (!proc.alive) return;
      const c = current.child;
      const hard = signal === 'SIGKILL' ? null : setTimeout(() => c.kill('SIGKILL'), graceMs);
      c.kill(signal);
      await current.exited;
      if (hard) clearTimeout(hard);
    },
    restart() {
      if (proc.alive) throw new Error(`${name} is still running`);
      log.write(`[proof] --- restart of ${name} at ${new Date().toISOString()} ---\n`);
      current = launch();
    },
    tail(lines = 30) {
      try {
        return readFileSync(opts.logPath, 'utf8').trim().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
  return proc;
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (null when it is gone). */
export function rssBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`,
      );
    }
    await sleep(everyMs);
  }
}

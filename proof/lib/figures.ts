import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * How a proof reports to proof/run.ts: one stdout line per figure, `PROOF-FIGURE <json>`. A figure with
 * `mustBeZero` fails the proof when it is not 0. Other output of the proof is passed through.
 */
export interface Figure {
  name: string;
  value: number | string;
  unit?: string;
  mustBeZero?: boolean;
}

export const FIGURE_PREFIX = 'PROOF-FIGURE ';

export function figure(name: string, value: number | string, opts: { unit?: string; mustBeZero?: boolean } = {}): void {
  const f: Figure = { name, value, ...opts };
  process.stdout.write(`${FIGURE_PREFIX}${JSON.stringify(f)}\n`);
}

/** A progress line (stderr, so it never mixes with figures). */
export function note(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** A fresh working directory for one proof's processes and logs (kept for inspection). */
export function workDir(name: string): string {
  return mkdtempSync(path.join(process.env.PROOF_WORK_DIR || tmpdir(), `vulnscan-proof-${name}-`));
}

/**
 * Runs a proof's body; cleanups registered with `onExit` run afterwards (also on failure or SIGTERM
 * from the runner). Exit code 1 when the body throws.
 */
export async function runProof(name: string, body: (onExit: (fn: () => Promise<unknown>) => void) => Promise<void>) {
  const cleanups: Array<() => Promise<unknown>> = [];
  let cleaning: Promise<void> | null = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const fn of cleanups.reverse()) await fn().catch((e: unknown) => note(`cleanup: ${(e as Error).message}`));
    })());
  process.once('SIGTERM', () => {
    note(`${name}: stopped by the runner`);
    void cleanup().finally(() => process.exit(2));
  });
  let code = 0;
  try {
    await body((fn) => cleanups.push(fn));
  } catch (err) {
    note(`${name} FAILED: ${(err as Error).stack ?? String(err)}`);
    code = 1;
  }
  await cleanup();
  process.exit(code);
}

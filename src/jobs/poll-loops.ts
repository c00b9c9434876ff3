import { databaseState, onDatabaseUp } from '../db/mongo';
import { backoffMs } from './periodic';

/**
 * `count` loops that each call `runOnce` until it finds no work, then sleep `pollMs` (or until
 * stopped) before asking again. The scan worker and the alert delivery worker share it. An error
 * from `runOnce` is reported to `onError` and the loop backs off (pollMs × 2^failures, capped at
 * `maxBackoffMs`); while the database is known to be away the loops pause, and they wake as soon as
 * it is back. No rejection leaves a loop.
 */
export interface PollLoops {
  start(): void;
  /** Stops asking for work, wakes every sleeping loop, and waits for loops in flight up to `graceMs`. */
  stop(graceMs: number): Promise<void>;
  /** Wakes every sleeping loop now (work was just queued in this process), instead of after `pollMs`. */
  wake(): void;
  readonly running: boolean;
}

export function createPollLoops(opts: {
  count: number;
  pollMs: number;
  runOnce: () => Promise<boolean>;
  onError: (err: unknown, failures: number) => void;
  /** Upper bound of the delay after consecutive failures (default 30 s). */
  maxBackoffMs?: number;
}): PollLoops {
  let running = false;
  const loops: Array<Promise<void>> = [];
  const wakers = new Set<() => void>();
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  let unsubscribe: (() => void) | null = null;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });

  async function loop(): Promise<void> {
    let failures = 0;
    while (running) {
      if (!databaseState().up) {
        // Paused; onDatabaseUp wakes us.
        await sleep(maxBackoff);
        continue;
      }
      let worked = false;
      try {
        worked = await opts.runOnce();
        failures = 0;
      } catch (err) {
        failures += 1;
        try {
          opts.onError(err, failures);
        } catch {
          // a failing logger must not end the loop
        }
      }
      if (!running) break;
      if (failures > 0) await sleep(backoffMs(opts.pollMs, failures, maxBackoff));
      else if (!worked) await sleep(opts.pollMs);
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      unsubscribe = onDatabaseUp(() => {
        for (const wake of [...wakers]) wake();
      });
      for (let i = 0; i < opts.count; i++) loops.push(loop());
    },
    async stop(graceMs) {
      running = false;
      unsubscribe?.();
      unsubscribe = null;
      for (const wake of [...wakers]) wake();
      const all = Promise.allSettled(loops.splice(0));
      await Promise.race([all, new Promise((r) => setTimeout(r, graceMs).unref())]);
    },
    wake() {
      for (const w of [...wakers]) w();
    },
    get running() {
      return running;
    },
  };
}

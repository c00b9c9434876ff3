import { databaseState, isDatabaseUnavailable, onDatabaseUp } from '../db/mongo';
import type { Logger } from '../logger';

/**
 * The one way this service runs background work on a timer (sweeps, refresh, summaries, retention,
 * scheduler ticks, lease renewals). Each tick's failure is caught and logged with the task's name,
 * so no rejection ever reaches the process-level handlers; failures back off exponentially (capped);
 * while the database is known to be away the task does not run at all and resumes as soon as it is
 * back. Ticks never overlap, and stop() waits for the one in flight.
 */
export interface Periodic {
  readonly name: string;
  start(): void;
  /** Stops scheduling ticks and waits for the one in flight. */
  stop(): Promise<void>;
  /** Runs one tick now (outside the schedule), with the same catching and logging; never rejects. */
  runNow(): Promise<void>;
  /** Consecutive failed ticks (0 after a success). */
  readonly failures: number;
  readonly running: boolean;
}

export interface PeriodicOptions {
  /** Names the task in every log line. */
  name: string;
  everyMs: number;
  run: () => Promise<unknown>;
  log: Logger;
  /** Upper bound of the delay after failures (default: max(everyMs, 30 s)). */
  maxBackoffMs?: number;
  /** First tick after this delay (default everyMs). */
  firstDelayMs?: number;
  /** Skips ticks while the database is known to be away (default true). */
  needsDatabase?: boolean;
  /** Log level of a failed tick while the database is away (default warn; lease renewals use debug). */
  outageLevel?: 'warn' | 'debug';
}

/** The delay after `failures` consecutive failures: everyMs × 2^failures, capped. */
export function backoffMs(everyMs: number, failures: number, maxMs: number): number {
  if (failures <= 0) return everyMs;
  return Math.min(everyMs * 2 ** Math.min(failures, 30), Math.max(maxMs, everyMs));
}

export function createPeriodic(opts: PeriodicOptions): Periodic {
  const log = opts.log.child({ task: opts.name });
  const maxBackoff = opts.maxBackoffMs ?? Math.max(opts.everyMs, 30_000);
  const needsDb = opts.needsDatabase ?? true;
  let running = false;
  let failures = 0;
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<void> | null = null;
  let unsubscribe: (() => void) | null = null;

  async function tick(): Promise<void> {
    try {
      await opts.run();
      if (failures > 0) log.info({ after: failures }, 'periodic task succeeded again');
      failures = 0;
    } catch (err) {
      failures += 1;
      const outage = isDatabaseUnavailable(err) || !databaseState().up;
      const retryInMs = backoffMs(opts.everyMs, failures, maxBackoff);
      const fields = { err: (err as Error)?.message ?? String(err), failures, retryInMs };
      if (outage && opts.outageLevel === 'debug') log.debug(fields, 'periodic task failed: database unavailable');
      else if (outage) log.warn(fields, 'periodic task failed: database unavailable; backing off');
      else log.error({ ...fields, stack: (err as Error)?.stack }, 'periodic task failed; backing off');
    }
  }

  /** One guarded tick: never rejects, never overlaps. */
  function runGuarded(): Promise<void> {
    current ??= tick().finally(() => {
      current = null;
    });
    return current;
  }

  function schedule(delayMs: number): void {
    if (!running) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (!running) return;
      if (needsDb && !databaseState().up) {
        // Paused: the 'up' listener reschedules at once; this check is only a fallback.
        schedule(maxBackoff);
        return;
      }
      void runGuarded().then(() => schedule(backoffMs(opts.everyMs, failures, maxBackoff)));
    }, delayMs);
    timer.unref();
  }

  return {
    name: opts.name,
    start() {
      if (running) return;
      running = true;
      if (needsDb) {
        // Back from an outage: run soon instead of waiting out the backoff.
        unsubscribe = onDatabaseUp(() => {
          if (running && !current) schedule(Math.min(opts.everyMs, 1000));
        });
      }
      schedule(opts.firstDelayMs ?? opts.everyMs);
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      unsubscribe?.();
      unsubscribe = null;
      if (current) await current;
    },
    runNow: runGuarded,
    get failures() {
      return failures;
    },
    get running() {
      return running;
    },
  };
}

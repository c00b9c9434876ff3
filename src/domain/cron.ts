import { Cron } from 'croner';

/**
 * Cron expressions of schedules, evaluated with croner (no timers: only date arithmetic, so the
 * scheduler decides when to look and tests drive time). Five fields (minute precision) or six
 * (seconds first, as Harbor writes them); `@hourly`, `@daily`, `@weekly`, `@monthly` nicknames too.
 */
export interface CronSchedule {
  readonly expression: string;
  /** The latest slot at or before `now`, null when the expression never fired before `now`. */
  latestSlot(now: Date): Date | null;
  /** The first slot after `now`. */
  nextSlot(now: Date): Date | null;
}

/** Checks `expression` and returns null when it is fine, else why it is not (for a 5003 message). */
export function cronProblem(expression: string, timezone = 'UTC'): string | null {
  const e = expression.trim();
  if (!e) return 'must not be empty';
  if (e.length > 100) return 'must be at most 100 characters';
  if (!e.startsWith('@')) {
    const fields = e.split(/\s+/).length;
    if (fields !== 5 && fields !== 6)
      return `must have 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), not ${fields}`;
  }
  try {
    const c = new Cron(e, { paused: true, timezone });
    if (!c.nextRun(new Date())) return 'never fires';
  } catch (err) {
    return `is not a valid cron expression (${(err as Error).message.replace(/^CronPattern: /, '')})`;
  }
  return null;
}

/** Parses a checked expression; throws Error when it is invalid (validate with cronProblem first). */
export function cronSchedule(expression: string, timezone = 'UTC'): CronSchedule {
  const problem = cronProblem(expression, timezone);
  if (problem) throw new Error(`cron "${expression}" ${problem}`);
  const c = new Cron(expression.trim(), { paused: true, timezone });
  return {
    expression: expression.trim(),
    // previousRuns is strictly before its reference; +1 ms makes a slot exactly at `now` count.
    latestSlot: (now) => c.previousRuns(1, new Date(now.getTime() + 1))[0] ?? null,
    nextSlot: (now) => c.nextRun(now),
  };
}

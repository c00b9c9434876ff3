import type { Logger } from '../logger';
import { createPeriodic, type Periodic } from './periodic';
import type { DueSlot, SchedulesService } from '../modules/schedules';
import type { ScannerService } from '../modules/scanner';

export interface SchedulerDeps {
  schedules: Pick<SchedulesService, 'claimDue'>;
  scanner: Pick<ScannerService, 'scanAll' | 'scanRegistry'>;
  logger: Logger;
  instance: string;
  tickMs: number;
  /** The clock; tests pass their own `now` to tick() instead. */
  now?: () => Date;
}

export interface FiredSlot extends DueSlot {
  /** Registries whose discovery started (already running ones are not started twice). */
  started: string[];
  error?: string;
}

export interface Scheduler {
  start(): void;
  /** Stops looking for due slots; waits for a tick in progress (discoveries it started stop with the scanner). */
  stop(): Promise<void>;
  /** Claims the slots due at `now` and fires the ones this instance won. */
  tick(now?: Date): Promise<FiredSlot[]>;
}

/**
 * The schedule loop: every `tickMs` it claims due slots (schedules service) and fires each one it
 * won through the scanner service: the global schedule scans all registries, a registry's schedule
 * that registry. Firing only starts discoveries; scans run in the scan workers.
 */
export function createScheduler(deps: SchedulerDeps): Scheduler {
  const log = deps.logger.child({ component: 'scheduler' });
  const clock = deps.now ?? (() => new Date());
  let periodic: Periodic | null = null;

  async function fire(slot: DueSlot): Promise<FiredSlot> {
    const ctx = { log: log.child({ schedule: slot.kind, registry: slot.repository, slot: slot.slot.toISOString() }) };
    try {
      if (slot.kind === 'global') {
        const r = await deps.scanner.scanAll({ force: false }, ctx);
        ctx.log.info({ started: r.started, registries: r.registries.length }, 'scan-all schedule fired');
        return { ...slot, started: r.registries.filter((x) => x.started).map((x) => x.repository) };
      }
      const r = await deps.scanner.scanRegistry(slot.repository!, ctx);
      ctx.log.info({ started: r.started }, 'registry schedule fired');
      return { ...slot, started: r.started ? [r.repository] : [] };
    } catch (err) {
      // The slot is spent either way: a registry removed meanwhile or a database hiccup waits for the next one.
      ctx.log.error({ err: (err as Error).message }, 'schedule fired but could not start its scan');
      return { ...slot, started: [], error: (err as Error).message };
    }
  }

  async function tick(now = clock()): Promise<FiredSlot[]> {
    const due = await deps.schedules.claimDue(now, deps.instance);
    const fired: FiredSlot[] = [];
    for (const slot of due) fired.push(await fire(slot));
    return fired;
  }

  return {
    start() {
      if (periodic) return;
      log.info({ tickMs: deps.tickMs, instance: deps.instance }, 'scheduler started');
      // A failed tick (database away while claiming slots) is logged by the runner and backed off.
      periodic = createPeriodic({ name: 'scheduler', everyMs: deps.tickMs, run: () => tick(), log });
      periodic.start();
    },
    async stop() {
      const p = periodic;
      periodic = null;
      await p?.stop();
    },
    tick,
  };
}

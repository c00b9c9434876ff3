import type { Logger } from '../logger';
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
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<unknown> | null = null;
  let running = false;

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

  function schedule(): void {
    if (!running) return;
    timer = setTimeout(() => {
      current = tick()
        .catch((err: unknown) => log.error({ err: (err as Error).message }, 'scheduler tick failed (database?)'))
        .finally(() => {
          current = null;
          schedule();
        });
    }, deps.tickMs);
    timer.unref();
  }

  return {
    start() {
      if (running) return;
      running = true;
      log.info({ tickMs: deps.tickMs, instance: deps.instance }, 'scheduler started');
      schedule();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      if (current) await current;
    },
    tick,
  };
}

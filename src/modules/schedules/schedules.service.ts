import { cronProblem, cronSchedule } from '../../domain/cron';
import { ParameterError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import { RegistryModel } from '../registries';
import { ScheduleModel, ScheduleSlotModel, type ScheduleDoc } from './schedule.model';
import type { ScheduleView, UpdateSchedule } from './schedules.schemas';

export const GLOBAL_SCHEDULE = 'global';
const EPOCH = new Date(0);
// Slot records older than this are dropped; a slot that old is behind lastSlot and never claimed again.
const SLOT_RETENTION_MS = 24 * 3600 * 1000;

export interface SchedulesDeps {
  timezone: string;
  /** SCAN_ALL_SCHEDULE: the global cron until one is set through the API. */
  scanAllDefault?: string;
}

/** A slot this instance won: fire it. */
export interface DueSlot {
  kind: 'global' | 'registry';
  /** Registry key for kind `registry`. */
  repository?: string;
  cron: string;
  slot: Date;
}

export interface SchedulesService {
  /** The global (scan-all) schedule. */
  getGlobal(now?: Date): Promise<ScheduleView>;
  /** Sets (or with "" clears) the global cron; the current slot counts as fired. Throws ParameterError. */
  updateGlobal(input: UpdateSchedule, ctx: Ctx, now?: Date): Promise<ScheduleView>;
  /**
   * Claims every slot due at `now` (the global schedule and each registry's) for `instance`. A slot
   * is claimed by inserting its unique slot record, so of several instances on one database exactly
   * one gets it. Slots missed while no instance ran collapse into the latest
   * one, which fires once. A schedule seen for the first time, or whose cron changed, is armed
   * (its current slot counts as fired) instead of firing at once.
   */
  claimDue(now: Date, instance: string): Promise<DueSlot[]>;
}

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export function createSchedulesService(deps: SchedulesDeps): SchedulesService {
  const latest = (cron: string, now: Date) => cronSchedule(cron, deps.timezone).latestSlot(now) ?? EPOCH;

  function view(doc: ScheduleDoc | null, now: Date): ScheduleView {
    const cron = doc?.cron ?? '';
    return {
      cron,
      enabled: Boolean(cron),
      source: doc ? doc.source : 'none',
      timezone: deps.timezone,
      nextRun: cron ? iso(cronSchedule(cron, deps.timezone).nextSlot(now)) : null,
      lastSlot: doc?.lastSlot && doc.lastSlot.getTime() > 0 ? iso(doc.lastSlot) : null,
      lastFiredAt: iso(doc?.lastFiredAt),
      lastFiredBy: doc?.lastFiredBy ?? null,
    };
  }

  /** Sets `cron` on schedule `id` with its current slot as fired, unless it holds that cron already. */
  async function arm(id: string, cron: string, now: Date, source: 'api' | 'config'): Promise<void> {
    try {
      await ScheduleModel.updateOne(
        { _id: id, $or: [{ cron: { $ne: cron } }, { source: { $ne: source } }] },
        { $set: { cron, source, lastSlot: cron ? latest(cron, now) : EPOCH } },
        { upsert: true },
      );
    } catch (err) {
      // The document exists with this cron already (the upsert's insert collided): nothing to arm.
      if ((err as { code?: number }).code !== 11000) throw err;
    }
  }

  /** The slot of `id` due at `now` when this instance won it, else null. */
  async function claim(id: string, cron: string, now: Date, instance: string): Promise<Date | null> {
    const slot = latest(cron, now);
    const state = await ScheduleModel.findById(id, { cron: 1, lastSlot: 1 }).lean<ScheduleDoc>();
    if (!state || state.cron !== cron || (state.lastSlot && state.lastSlot.getTime() >= slot.getTime())) return null;
    try {
      await ScheduleSlotModel.create({
        _id: `${id}@${slot.toISOString()}`,
        schedule: id,
        slot,
        firedBy: instance,
        firedAt: now,
      });
    } catch (err) {
      if ((err as { code?: number }).code === 11000) return null;
      throw err;
    }
    await ScheduleModel.updateOne(
      { _id: id, lastSlot: { $lt: slot } },
      { $set: { lastSlot: slot, lastFiredAt: now, lastFiredBy: instance } },
    );
    await ScheduleSlotModel.deleteMany({ schedule: id, slot: { $lt: new Date(slot.getTime() - SLOT_RETENTION_MS) } });
    return slot;
  }

  return {
    async getGlobal(now = new Date()) {
      return view(await ScheduleModel.findById(GLOBAL_SCHEDULE).lean<ScheduleDoc>(), now);
    },

    async updateGlobal(input, ctx, now = new Date()) {
      if (input.cron) {
        const problem = cronProblem(input.cron, deps.timezone);
        if (problem) throw new ParameterError(`body.cron: "${input.cron}" ${problem}`);
      }
      await ScheduleModel.updateOne(
        { _id: GLOBAL_SCHEDULE },
        { $set: { cron: input.cron, source: 'api', lastSlot: input.cron ? latest(input.cron, now) : EPOCH } },
        { upsert: true },
      );
      ctx.log.info({ cron: input.cron }, 'scan-all schedule set');
      return view(await ScheduleModel.findById(GLOBAL_SCHEDULE).lean<ScheduleDoc>(), now);
    },

    async claimDue(now, instance) {
      const due: DueSlot[] = [];
      let global = await ScheduleModel.findById(GLOBAL_SCHEDULE).lean<ScheduleDoc>();
      const fallback = deps.scanAllDefault ?? '';
      // The configured default applies until the API sets one; a changed default re-arms it.
      if ((!global || global.source === 'config') && (global?.cron ?? '') !== fallback) {
        await arm(GLOBAL_SCHEDULE, fallback, now, 'config');
        global = await ScheduleModel.findById(GLOBAL_SCHEDULE).lean<ScheduleDoc>();
      }
      if (global?.cron) {
        const slot = await claim(GLOBAL_SCHEDULE, global.cron, now, instance);
        if (slot) due.push({ kind: 'global', cron: global.cron, slot });
      }
      const cursor = RegistryModel.find({ schedule: { $nin: ['', null] } }, { key: 1, schedule: 1 })
        .lean<Array<{ _id: unknown; key: string; schedule: string }>>()
        .cursor();
      for await (const r of cursor) {
        // A cron stored before validation existed, or invalid under another time zone: skip, never crash the loop.
        if (cronProblem(r.schedule, deps.timezone)) continue;
        const id = `registry:${String(r._id)}`;
        const state = await ScheduleModel.findById(id, { cron: 1 }).lean<{ cron: string }>();
        if (state?.cron !== r.schedule) await arm(id, r.schedule, now, 'api');
        const slot = await claim(id, r.schedule, now, instance);
        if (slot) due.push({ kind: 'registry', repository: r.key, cron: r.schedule, slot });
      }
      return due;
    },
  };
}

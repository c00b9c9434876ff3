import mongoose, { Schema } from 'mongoose';

/**
 * The firing state of one schedule, shared by every instance: `_id` is `global` (scan-all) or
 * `registry:<registry _id>` (stable across renames of its key). `cron` is the expression the state
 * belongs to; `lastSlot` the latest slot that fired (or counted as fired when the schedule was set).
 */
const scheduleSchema = new Schema(
  {
    _id: { type: String, required: true },
    cron: { type: String, default: '' },
    /** Where the global cron came from: `api` (PUT /api/scanner/schedule) or `config` (SCAN_ALL_SCHEDULE). */
    source: { type: String, default: 'api' },
    lastSlot: { type: Date, default: null },
    lastFiredAt: { type: Date, default: null },
    lastFiredBy: { type: String, default: null },
  },
  { versionKey: false, timestamps: true },
);

export interface ScheduleDoc {
  _id: string;
  cron: string;
  source: 'api' | 'config';
  lastSlot: Date | null;
  lastFiredAt: Date | null;
  lastFiredBy: string | null;
}

export const ScheduleModel = mongoose.model('Schedule', scheduleSchema, 'schedules');

/**
 * One document per fired slot, `_id` = `<schedule id>@<slot ISO time>`. Inserting it is the claim:
 * a unique `_id` lets exactly one instance insert it, on MongoDB and on FerretDB alike (FerretDB 1.x
 * runs a conditional findOneAndUpdate/updateOne as read-then-write, so two instances both "win" it).
 * Records older than a day are deleted by the winner of a later slot.
 */
const slotSchema = new Schema(
  {
    _id: { type: String, required: true },
    schedule: { type: String, required: true },
    slot: { type: Date, required: true },
    firedBy: { type: String, required: true },
    firedAt: { type: Date, required: true },
  },
  { versionKey: false },
);
slotSchema.index({ schedule: 1, slot: 1 });

export const ScheduleSlotModel = mongoose.model('ScheduleSlot', slotSchema, 'scheduleslots');

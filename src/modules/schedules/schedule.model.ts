import mongoose, { Schema } from 'mongoose';

/**
 * The firing state of one schedule, shared by every instance: `_id` is `global` (scan-all) or
 * `registry:<registry _id>` (stable across renames of its key). `cron` is the expression the state
 * belongs to; `lastSlot` the latest slot that fired (or was skipped when the schedule was set).
 * A slot fires where a findOneAndUpdate moved `lastSlot` forward to it, so exactly once.
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

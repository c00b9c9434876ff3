import mongoose, { Schema } from 'mongoose';
import { LEVELS } from '../../domain/severity';

const counts = Object.fromEntries(LEVELS.map((l) => [l, { type: Number, required: true }])) as Record<
  (typeof LEVELS)[number],
  { type: NumberConstructor; required: true }
>;

/**
 * One point of an image's history (registry, image, tag, platform): what a scan (or a refresh that
 * changed something) left on the image document. Append-only.
 */
const imageHistorySchema = new Schema(
  {
    repository: { type: String, required: true },
    image: { type: String, required: true },
    tag: { type: String, required: true },
    platform: { type: String, required: true },
    at: { type: Date, required: true },
    digest: { type: String, required: true },
    ...counts,
    packages: { type: Number, required: true },
    score: { type: Number, default: null },
  },
  { versionKey: false },
);

// GET /api/scanner/history: one tag's points in time order, ties by _id (the page order), so the
// sort is the index's; the optional platform is filtered on the documents the range reads.
imageHistorySchema.index({ repository: 1, image: 1, tag: 1, at: 1, _id: 1 });

export interface ImageHistoryDoc extends Record<(typeof LEVELS)[number], number> {
  _id: mongoose.Types.ObjectId;
  repository: string;
  image: string;
  tag: string;
  platform: string;
  at: Date;
  digest: string;
  packages: number;
  score: number | null;
}

export const ImageHistoryModel = mongoose.model<ImageHistoryDoc>('ImageHistory', imageHistorySchema, 'image_history');

import mongoose, { Schema } from 'mongoose';
import { DEFAULT_WEIGHTS } from '../../domain/scoring';
import { LEVELS } from '../../domain/severity';

/**
 * A single document (`_id: "score"`) holding the six severity weights and `version`, a counter every
 * update increments (absent until the first update), so a cached copy can tell it is older.
 */
const scoreSettingsSchema = new Schema(
  {
    _id: { type: String, default: 'score' },
    ...Object.fromEntries(LEVELS.map((l) => [l, { type: Number, default: DEFAULT_WEIGHTS[l] }])),
    version: { type: Number },
  },
  { timestamps: true, versionKey: false },
);

export const ScoreSettingsModel = mongoose.model('ScoreSettings', scoreSettingsSchema, 'settings');

import mongoose, { Schema } from 'mongoose';
import { LEVELS, LEVEL_NAMES } from '../../domain/severity';

/** Sort fields of POST /api/scanner/image and the stored field each one sorts by. */
export const FINDING_SORT_FIELDS = {
  created_at: 'created_at',
  updated_at: 'updated_at',
  cveId: 'cveId',
  level: 'levelRank',
  type: 'type',
} as const;
export type FindingSortField = keyof typeof FINDING_SORT_FIELDS;

/**
 * One vulnerability of one package version in one image digest. Tags sharing a digest share its
 * findings. `created_at` is when it was first seen, `updated_at` the last scan that reported it;
 * a finding a later scan no longer reports gets `fixedAt` and is kept (history), out of the lists.
 */
const findingSchema = new Schema(
  {
    digest: { type: String, required: true },
    cveId: { type: String, required: true },
    /** Package name (the seed calls it `type`). */
    type: { type: String, required: true },
    version: { type: String, required: true, default: '' },
    versionFormat: { type: String, default: '' },
    description: { type: String, default: '' },
    link: { type: String, default: '' },
    level: { type: String, enum: LEVELS.map((l) => LEVEL_NAMES[l]), required: true },
    /** Critical 6 … Unknown 1, so that sorting by level follows severity, not the alphabet. */
    levelRank: { type: Number, required: true },
    fixedBy: { type: String, default: '' },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    fixedAt: { type: Date, default: null },
    /** Set when first stored, cleared once the alert outbox has derived it (src/modules/alerts/alerts.outbox.ts). */
    alertPending: { type: Boolean },
  },
  { versionKey: false },
);

findingSchema.index({ digest: 1, cveId: 1, type: 1, version: 1 }, { unique: true });
// Every sort of POST /api/scanner/image is served by (digest, fixedAt, field, _id).
for (const field of Object.values(FINDING_SORT_FIELDS)) {
  findingSchema.index({ digest: 1, fixedAt: 1, [field]: 1, _id: 1 });
}
// Which images a CVE hits.
findingSchema.index({ cveId: 1, fixedAt: 1, digest: 1 });
// The alert outbox reads the findings not yet derived (absent on every other one).
findingSchema.index({ alertPending: 1, digest: 1 });

export interface FindingDoc {
  _id: mongoose.Types.ObjectId;
  digest: string;
  cveId: string;
  type: string;
  version: string;
  versionFormat: string;
  description: string;
  link: string;
  level: string;
  levelRank: number;
  fixedBy: string;
  created_at: Date;
  updated_at: Date;
  fixedAt: Date | null;
}

export const FindingModel = mongoose.model<FindingDoc>('Finding', findingSchema, 'findings');

import mongoose, { Schema } from 'mongoose';

export const SUPPRESSION_SCOPES = ['global', 'registry', 'image', 'tag'] as const;
export type SuppressionScope = (typeof SUPPRESSION_SCOPES)[number];

/**
 * A user's decision that one CVE (or advisory) does not count, everywhere or for one registry,
 * image or tag. Suppressed findings stay listed (flagged) but leave the images' counts and scores.
 * `active` turns false once `expiresAt` passed (the expiry sweep flips it); expired ones are kept.
 */
const suppressionSchema = new Schema(
  {
    cveId: { type: String, required: true },
    scope: { type: String, enum: SUPPRESSION_SCOPES, required: true },
    /** Registry key `host:port` (scopes registry, image, tag), else null. */
    repository: { type: String, default: null },
    image: { type: String, default: null },
    tag: { type: String, default: null },
    reason: { type: String, required: true },
    author: { type: String, required: true },
    expiresAt: { type: Date, default: null },
    active: { type: Boolean, default: true },
  },
  { timestamps: true, versionKey: false },
);

// The list pages newest first; the sweep and every count computation read the active ones.
suppressionSchema.index({ createdAt: -1, _id: -1 });
suppressionSchema.index({ active: 1, expiresAt: 1 });
suppressionSchema.index({ cveId: 1 });

export interface SuppressionDoc {
  _id: mongoose.Types.ObjectId;
  cveId: string;
  scope: SuppressionScope;
  repository: string | null;
  image: string | null;
  tag: string | null;
  reason: string;
  author: string;
  expiresAt: Date | null;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export const SuppressionModel = mongoose.model<SuppressionDoc>('Suppression', suppressionSchema, 'suppressions');

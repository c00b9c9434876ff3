import mongoose, { Schema } from 'mongoose';
import { LEVELS } from '../../domain/severity';

export const SCAN_STATUSES = ['pending', 'scanning', 'done', 'failed'] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

/** Fields the image lists may be sorted by (besides the per-level counts). */
export const IMAGE_SORT_FIELDS = ['created_at', 'updated_at', 'score', 'image', 'tag', ...LEVELS] as const;

const counts = Object.fromEntries(LEVELS.map((l) => [l, { type: Number, default: 0 }])) as Record<
  (typeof LEVELS)[number],
  { type: NumberConstructor; default: number }
>;

/**
 * One tag of one image in one registry, for one platform. Tags that share a digest share the
 * digest's findings; the counts, package count, score and scan state are derived here (by
 * recomputeImages in image-state.ts, their only writer) so that lists can be sorted and filtered
 * from indexes alone.
 */
const imageSchema = new Schema(
  {
    /** Registry key `host:port`. */
    repository: { type: String, required: true },
    image: { type: String, required: true },
    tag: { type: String, required: true },
    platform: { type: String, required: true, default: 'linux/amd64' },
    /** Digest of the platform image manifest (what Clair indexes). */
    digest: { type: String, default: null },
    /** Digest the tag points at (an index/list digest for multi-platform tags). */
    tagDigest: { type: String, default: null },
    namespace: { type: String, default: null },
    ...counts,
    packages: { type: Number, default: 0 },
    score: { type: Number, default: null },
    /** Weights version (score settings `version`, 0 = defaults) the score was computed with; null without a score. */
    scoreVersion: { type: Number, default: null },
    scanStatus: { type: String, enum: SCAN_STATUSES, default: 'pending' },
    scanError: { type: String, default: null },
    /** False once the tag disappeared from the registry (kept, not deleted). */
    present: { type: Boolean, default: true },
    /** Start of the discovery that last saw this tag (older than the latest full discovery: vanished). */
    seenAt: { type: Date, default: null },
    /** Set when the tag became present with this digest (new, back, moved); cleared once the alert outbox derived it. */
    alertPending: { type: Boolean },
    /** First and last completed scan (the seed's created_at / updated_at). */
    created_at: { type: Date, default: null },
    updated_at: { type: Date, default: null },
  },
  { timestamps: { createdAt: 'discoveredAt', updatedAt: 'modifiedAt' }, versionKey: false },
);

imageSchema.index({ repository: 1, image: 1, tag: 1, platform: 1 }, { unique: true });
imageSchema.index({ digest: 1, scanStatus: 1 });
imageSchema.index({ repository: 1, present: 1, scanStatus: 1 });
// One index per sort field, with and without the registry filter, so every list is index-served
// (lists show present tags only, so `present` is an equality prefix).
for (const field of IMAGE_SORT_FIELDS) {
  imageSchema.index({ repository: 1, present: 1, [field]: 1, _id: 1 });
  imageSchema.index({ present: 1, [field]: 1, _id: 1 });
}
// Re-score streams scanned images only.
imageSchema.index({ score: 1 });
// The drainer finds scores computed with older weights (src/modules/images/image-state.ts).
imageSchema.index({ scoreVersion: 1 });
// The alert outbox reads the images not yet derived (absent on every other one).
imageSchema.index({ alertPending: 1, digest: 1 });

export interface ImageDoc extends Record<(typeof LEVELS)[number], number> {
  _id: mongoose.Types.ObjectId;
  repository: string;
  image: string;
  tag: string;
  platform: string;
  digest: string | null;
  tagDigest: string | null;
  namespace: string | null;
  packages: number;
  score: number | null;
  scoreVersion?: number | null;
  scanStatus: ScanStatus;
  scanError: string | null;
  present: boolean;
  seenAt: Date | null;
  created_at: Date | null;
  updated_at: Date | null;
  discoveredAt?: Date;
  modifiedAt?: Date;
}

export const ImageModel = mongoose.model<ImageDoc>('Image', imageSchema, 'images');

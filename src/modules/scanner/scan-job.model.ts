import mongoose, { Schema } from 'mongoose';
import type { LevelCounts } from '../../domain/severity';

export const JOB_STATES = ['queued', 'running', 'done', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

/**
 * One scan per image digest, whichever tags, images or registries share it. The job is the
 * digest's scan record: its state, attempts and timings, and the summary of its last report
 * (copied to every image with this digest). A worker claims a job with a lease (leaseOwner,
 * leaseUntil) that it renews while scanning; an expired lease lets another instance take over.
 */
const scanJobSchema = new Schema(
  {
    digest: { type: String, required: true },
    /** Where to pull it from: registry key and repository name inside it. */
    repository: { type: String, required: true },
    image: { type: String, required: true },
    state: { type: String, enum: JOB_STATES, required: true, default: 'queued' },
    attempts: { type: Number, default: 0 },
    lastError: { type: String, default: null },
    /** Not claimed before this time (retry backoff). */
    notBefore: { type: Date, required: true },
    leaseOwner: { type: String, default: null },
    leaseUntil: { type: Date, default: null },
    queuedAt: { type: Date, required: true },
    startedAt: { type: Date, default: null },
    finishedAt: { type: Date, default: null },
    durationMs: { type: Number, default: null },
    /** First and last successful scan (the images' created_at and updated_at); null before the first. */
    firstScannedAt: { type: Date, default: null },
    scannedAt: { type: Date, default: null },
    /** Summary of the last successful report. */
    result: {
      type: new Schema(
        {
          namespace: { type: String, default: null },
          packages: { type: Number, default: 0 },
          counts: { type: Schema.Types.Mixed, default: {} },
          findings: { type: Number, default: 0 },
        },
        { _id: false },
      ),
      default: null,
    },
    /** Clair's index_state when the digest was indexed (a change means re-index). */
    indexState: { type: String, default: null },
    /** Generation of the last claim; never reset, so a requeued job is claimed afresh (src/db/claim.ts). */
    claimSeq: { type: Number, default: 0 },
  },
  { versionKey: false },
);

scanJobSchema.index({ digest: 1 }, { unique: true });
scanJobSchema.index({ state: 1, notBefore: 1 });
scanJobSchema.index({ state: 1, leaseUntil: 1 });
scanJobSchema.index({ state: 1, finishedAt: -1 });

export interface ScanJobDoc {
  _id: mongoose.Types.ObjectId;
  digest: string;
  repository: string;
  image: string;
  state: JobState;
  attempts: number;
  lastError: string | null;
  notBefore: Date;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  queuedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  durationMs: number | null;
  firstScannedAt?: Date | null;
  scannedAt?: Date | null;
  result: { namespace: string | null; packages: number; counts: LevelCounts; findings: number } | null;
  indexState: string | null;
  claimSeq?: number;
}

export const ScanJobModel = mongoose.model('ScanJob', scanJobSchema, 'scanjobs');

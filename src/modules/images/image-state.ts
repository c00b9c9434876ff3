import type { AnyBulkWriteOperation } from 'mongoose';
import { bulkWriteCapped, chunk } from '../../db/batch';
import { computeScore, type Weights } from '../../domain/scoring';
import { LEVELS, emptyCounts, type Level, type LevelCounts } from '../../domain/severity';
import type { Ctx } from '../../http/context';
// Direct model imports (not through the modules' index.ts): the scanner and suppressions modules
// import this one, so going through their index files would close an import cycle at load time.
import { FindingModel } from '../scanner/finding.model';
import { ScanJobModel, type ScanJobDoc } from '../scanner/scan-job.model';
import { getVersioned } from '../score/score.service';
import { loadActiveSuppressions, suppressedCounts } from '../suppressions/suppression.match';
import { ImageDirtyModel, type ImageDirtyDoc } from './image-dirty.model';
import { ImageModel, type ImageDoc, type ScanStatus } from './image.model';

/*
 * The one owner of what an image shows. Every field below is derived, never patched: from the
 * digest's stored findings (fixedAt null), the suppressions in force, the current weights and the
 * digest's scan job (one per digest). Other modules record the fact that changed and mark the
 * digest dirty BEFORE their write (markImagesDirty), then call recomputeImages; a crash between
 * the two leaves a marker the drainer picks up, and the reconcile pass repairs anything else.
 */

/** The derived fields of an image document, as recomputeImages writes them. */
export interface DerivedImageState extends LevelCounts {
  packages: number;
  namespace: string | null;
  score: number | null;
  scoreVersion: number | null;
  scanStatus: ScanStatus;
  scanError: string | null;
  created_at: Date | null;
  updated_at: Date | null;
}

export const DERIVED_FIELDS = [
  ...LEVELS,
  'packages',
  'namespace',
  'score',
  'scoreVersion',
  'scanStatus',
  'scanError',
  'created_at',
  'updated_at',
] as const;

type JobFacts = Pick<ScanJobDoc, 'state' | 'result' | 'lastError' | 'firstScannedAt' | 'scannedAt' | 'finishedAt'>;

/**
 * The scan state an image shows for its digest's job (docs/architecture.md, "Who writes what"): a
 * digest with results shows them ('done') while it is queued, rescanned or after a later failure.
 */
export function statusOf(job: Pick<JobFacts, 'state' | 'result'> | null | undefined): ScanStatus {
  if (!job) return 'pending';
  const scanned = job.result != null;
  switch (job.state) {
    case 'queued':
      return scanned ? 'done' : 'pending';
    case 'running':
      return scanned ? 'done' : 'scanning';
    case 'done':
      return 'done';
    case 'failed':
      return scanned ? 'done' : 'failed';
    default:
      return 'pending';
  }
}

/**
 * The derived state of one image: `counts` are its digest's current findings per level minus the
 * ones a suppression in force covers for this image; the rest comes from the job and the weights.
 */
export function deriveImageState(
  counts: LevelCounts,
  job: JobFacts | null | undefined,
  weights: { weights: Weights; version: number },
): DerivedImageState {
  const result = job?.result ?? null;
  const packages = result ? (result.packages ?? 0) : 0;
  const score = result ? computeScore(counts, packages, weights.weights) : null;
  // Jobs scanned before firstScannedAt existed keep their first finish as the first scan.
  const first = job?.firstScannedAt ?? (result ? (job?.finishedAt ?? null) : null);
  const last = job?.scannedAt ?? (result ? (job?.finishedAt ?? null) : null);
  return {
    ...counts,
    packages,
    namespace: result ? (result.namespace ?? null) : null,
    score,
    scoreVersion: score == null ? null : weights.version,
    scanStatus: statusOf(job),
    scanError: job?.state === 'failed' ? (job.lastError ?? null) : null,
    created_at: first ? new Date(first) : null,
    updated_at: last ? new Date(last) : null,
  };
}

/**
 * What an image with no digest, or a new one whose digest has no job yet, shows. Discovery inserts
 * new images with these values (`$setOnInsert`); recomputeImages then derives the real ones.
 */
export function noDigestState(): DerivedImageState {
  return deriveImageState(emptyCounts(), null, { weights: emptyCounts(), version: 0 });
}

const time = (d: unknown) => (d == null ? null : new Date(d as string).getTime());

/** True when the stored image already shows `target` (missing fields count as their defaults). */
export function sameState(img: Partial<ImageDoc>, target: DerivedImageState): boolean {
  for (const l of LEVELS) if ((img[l] ?? 0) !== target[l]) return false;
  return (
    (img.packages ?? 0) === target.packages &&
    (img.namespace ?? null) === target.namespace &&
    (img.score ?? null) === target.score &&
    (img.scoreVersion ?? null) === target.scoreVersion &&
    (img.scanStatus ?? 'pending') === target.scanStatus &&
    (img.scanError ?? null) === target.scanError &&
    time(img.created_at) === time(target.created_at) &&
    time(img.updated_at) === time(target.updated_at)
  );
}

const RANK_LEVEL: Record<number, Level> = {
  6: 'critical',
  5: 'high',
  4: 'medium',
  3: 'low',
  2: 'negligible',
  1: 'unknown',
};

/** Digests per recompute round: bounds the images, jobs and grouped counts held at once. */
const DIGESTS_PER_ROUND = 200;

const PROJECTION = {
  repository: 1,
  image: 1,
  tag: 1,
  digest: 1,
  ...Object.fromEntries(DERIVED_FIELDS.map((f) => [f, 1])),
};

/**
 * Recomputes every derived field of every image with one of `digests` from what is stored, and
 * writes only the images whose values change (statements capped per command, src/db/batch.ts).
 * Idempotent and safe to call any number of times; markers are left to the drainer. Returns how
 * many images were written. Throws what the driver throws.
 */
export async function recomputeImages(digests: Iterable<string | null | undefined>, ctx?: Ctx): Promise<number> {
  const all = [...new Set([...digests].filter((d): d is string => Boolean(d)))];
  if (!all.length) return 0;
  const started = Date.now();
  // Read before the data they weigh: a weights change after this read re-scores (rescoreAll), and a
  // score written with this version after that is found by its older scoreVersion and repaired.
  const weights = await getVersioned();
  const sups = await loadActiveSuppressions(new Date());
  let written = 0;
  for (const batch of chunk(all, DIGESTS_PER_ROUND)) {
    const [jobs, grouped, images] = await Promise.all([
      ScanJobModel.find(
        { digest: { $in: batch } },
        { digest: 1, state: 1, result: 1, lastError: 1, firstScannedAt: 1, scannedAt: 1, finishedAt: 1 },
      ).lean<Array<JobFacts & { digest: string }>>(),
      FindingModel.aggregate<{ _id: { digest: string; rank: number }; n: number }>([
        { $match: { digest: { $in: batch }, fixedAt: null } },
        { $group: { _id: { digest: '$digest', rank: '$levelRank' }, n: { $sum: 1 } } },
      ]),
      ImageModel.find({ digest: { $in: batch } }, PROJECTION).lean<ImageDoc[]>(),
    ]);
    const jobOf = new Map(jobs.map((j) => [j.digest, j]));
    const countsOf = new Map<string, LevelCounts>();
    for (const g of grouped) {
      const c = countsOf.get(g._id.digest) ?? emptyCounts();
      c[RANK_LEVEL[g._id.rank] ?? 'unknown'] += g.n;
      countsOf.set(g._id.digest, c);
    }
    const minus = await suppressedCounts(images, sups);
    const ops: AnyBulkWriteOperation[] = [];
    for (const img of images) {
      const raw = countsOf.get(img.digest!) ?? emptyCounts();
      const off = minus.get(String(img._id));
      const counts = emptyCounts();
      for (const l of LEVELS) counts[l] = Math.max(0, raw[l] - (off?.[l] ?? 0));
      const target = deriveImageState(counts, jobOf.get(img.digest!), weights);
      if (sameState(img, target)) continue;
      ops.push({ updateOne: { filter: { _id: img._id, digest: img.digest }, update: { $set: target } } });
    }
    written += (await bulkWriteCapped(ImageModel, ops)).modified;
  }
  ctx?.log.debug({ digests: all.length, written, ms: Date.now() - started }, 'images recomputed');
  return written;
}

/** Images without a digest show nothing scanned; repairs any that show more. Returns how many. */
export async function recomputeImagesWithoutDigest(): Promise<number> {
  const target = noDigestState();
  const ops: AnyBulkWriteOperation[] = [];
  const cursor = ImageModel.find({ digest: null }, PROJECTION).lean<ImageDoc>().batchSize(1000).cursor();
  for await (const img of cursor) {
    if (!sameState(img, target)) {
      ops.push({ updateOne: { filter: { _id: img._id, digest: null }, update: { $set: target } } });
    }
  }
  return (await bulkWriteCapped(ImageModel, ops)).modified;
}

function onlyDuplicateKeys(err: unknown): boolean {
  const e = err as { code?: number; writeErrors?: Array<{ code?: number }> | { code?: number } };
  const list = Array.isArray(e.writeErrors) ? e.writeErrors : e.writeErrors ? [e.writeErrors] : [];
  if (list.length) return list.every((w) => w.code === 11000);
  return e.code === 11000;
}

/**
 * Marks the images of `digests` dirty: call it BEFORE the write that changes what they show, then
 * recomputeImages after it. Each mark bumps the marker's `gen`, so a drain already under way keeps
 * it. Throws what the driver throws (then do not make the write it covers).
 */
export async function markImagesDirty(digests: Iterable<string | null | undefined>): Promise<void> {
  const ids = [...new Set([...digests].filter((d): d is string => Boolean(d)))];
  if (!ids.length) return;
  const at = new Date();
  const ops = ids.map((_id) => ({
    updateOne: { filter: { _id }, update: { $set: { at }, $inc: { gen: 1 } }, upsert: true },
  }));
  // Two writers upserting the same new marker: one inserts, the other's statement fails with a
  // duplicate key; sent again it matches the marker (a second bump of gen is harmless).
  for (let attempt = 1; ; attempt++) {
    try {
      await bulkWriteCapped(ImageDirtyModel, ops);
      return;
    } catch (err) {
      if (attempt >= 5 || !onlyDuplicateKeys(err)) throw err;
    }
  }
}

export interface DrainResult {
  digests: number;
  written: number;
  /** Digests recomputed because their images' scores used older weights. */
  stale: number;
}

/**
 * Drains the markers: oldest first, `batch` at a time, only those marked at least `minAgeMs` before
 * this drain started (a younger marker may cover a write still under way, which its writer
 * recomputes itself). Each batch is recomputed, then each marker deleted only if its `gen` did not
 * move meanwhile. Then repairs images whose score used older weights. Run it under a lease
 * (createImageOwner does); `shouldStop` ends it between batches.
 */
export async function drainImageMarkers(
  opts: { batch: number; minAgeMs: number },
  ctx: Ctx,
  shouldStop: () => boolean = () => false,
): Promise<DrainResult> {
  const result: DrainResult = { digests: 0, written: 0, stale: 0 };
  const cutoff = new Date(Date.now() - opts.minAgeMs);
  for (;;) {
    if (shouldStop()) return result;
    const markers = await ImageDirtyModel.find({ at: { $lte: cutoff } })
      .sort({ at: 1 })
      .limit(opts.batch)
      .lean<ImageDirtyDoc[]>();
    if (!markers.length) break;
    result.written += await recomputeImages(
      markers.map((m) => m._id),
      ctx,
    );
    await bulkWriteCapped(
      ImageDirtyModel,
      markers.map((m) => ({ deleteOne: { filter: { _id: m._id, gen: m.gen } } })),
    );
    result.digests += markers.length;
  }
  const { version } = await getVersioned();
  for (;;) {
    if (shouldStop()) return result;
    const stale = (await ImageModel.find({ scoreVersion: { $lt: version } }, { digest: 1 })
      .limit(opts.batch)
      .lean<Array<{ digest: string | null }>>()) as Array<{ digest: string | null }>;
    if (!stale.length) break;
    const digests = [...new Set(stale.map((s) => s.digest))];
    const before = result.written;
    result.written += await recomputeImages(digests, ctx);
    result.stale += digests.length;
    // Recomputed with the current version: nothing left to write means the weights moved on again.
    if (result.written === before) break;
  }
  return result;
}

export interface ReconcileResult {
  digests: number;
  written: number;
}

/**
 * Recomputes every digest of the collection, `batch` digests at a time from a cursor over the
 * images (memory stays flat; a digest met again in a later batch is recomputed again, harmlessly),
 * and repairs images without a digest. Repairs whatever a crash or a race left behind, including
 * scores of older weights. `shouldStop` ends it between batches.
 */
export async function reconcileImages(
  opts: { batch: number },
  ctx: Ctx,
  shouldStop: () => boolean = () => false,
): Promise<ReconcileResult> {
  const started = Date.now();
  const result: ReconcileResult = { digests: 0, written: 0 };
  let pending = new Set<string>();
  const flush = async () => {
    if (!pending.size) return;
    result.written += await recomputeImages(pending, ctx);
    result.digests += pending.size;
    pending = new Set();
  };
  const cursor = ImageModel.find({ digest: { $ne: null } }, { _id: 0, digest: 1 })
    .lean<{ digest: string }>()
    .batchSize(1000)
    .cursor();
  try {
    for await (const img of cursor) {
      if (shouldStop()) return result;
      pending.add(img.digest);
      if (pending.size >= opts.batch) await flush();
    }
  } finally {
    await cursor.close().catch(() => undefined);
  }
  await flush();
  result.written += await recomputeImagesWithoutDigest();
  ctx.log.info({ ...result, ms: Date.now() - started }, 'images reconciled');
  return result;
}

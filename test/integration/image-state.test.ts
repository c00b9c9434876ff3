import { createLogger } from '../../src/logger';
import { computeScore, DEFAULT_WEIGHTS } from '../../src/domain/scoring';
import {
  ImageDirtyModel,
  ImageModel,
  createImageOwner,
  markImagesDirty,
  reconcileImages,
  recomputeImages,
} from '../../src/modules/images';
import { FindingModel, ScanJobModel } from '../../src/modules/scanner';
import { ScoreSettingsModel } from '../../src/modules/score/score-settings.model';
import * as scoreService from '../../src/modules/score/score.service';
import { SuppressionModel } from '../../src/modules/suppressions';
import { insertImages, buildImage } from '../factories/image.factory';
import { digestOf, discoverTags, testCtx } from '../factories/scan-report.factory';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/**
 * Issue 12, "one owner": what an image shows is derived by recomputeImages from the stored
 * findings, the suppressions in force, the weights and the digest's scan job, and nothing else.
 */
const A = '10.0.0.1:5000';
const B = '10.0.0.2:5000';
const T1 = new Date('2026-01-01T00:00:00Z');
const T2 = new Date('2026-01-05T00:00:00Z');
const [D1, D2, D3, D4, D5] = [1, 2, 3, 4, 5].map((n) => digestOf(0x100 + n));
const RANK = { Critical: 6, High: 5, Medium: 4, Low: 3, Negligible: 2, Unknown: 1 } as const;
const result = (packages: number) => ({
  namespace: 'debian:12',
  packages,
  counts: { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 },
  findings: 0,
});

async function finding(digest: string, cveId: string, level: keyof typeof RANK, fixedAt: Date | null = null) {
  await FindingModel.create({
    digest,
    cveId,
    type: `pkg-${cveId}`,
    version: '1',
    level,
    levelRank: RANK[level],
    created_at: T1,
    updated_at: T1,
    fixedAt,
  });
}

async function job(digest: string, fields: Record<string, unknown>) {
  await ScanJobModel.create({
    digest,
    repository: A,
    image: 'app',
    queuedAt: T1,
    notBefore: T1,
    ...fields,
  });
}

/** An image as the API reads it: a nullable field that is absent reads as null (FerretDB 1.x drops nulls of an upsert's $setOnInsert). */
const img = async (repository: string, image: string) => {
  const doc = await ImageModel.findOne({ repository, image }).lean();
  if (!doc) return doc;
  for (const f of ['namespace', 'score', 'scoreVersion', 'scanError', 'created_at', 'updated_at'] as const) {
    (doc as unknown as Record<string, unknown>)[f] ??= null;
  }
  return doc;
};
const owner = (minAgeMs = 0) =>
  createImageOwner({
    logger: createLogger('silent'),
    instance: 'test',
    drainMs: 0,
    reconcileMs: 0,
    batch: 2,
    minAgeMs,
    leaseMs: 10_000,
  });

describe('recomputeImages derives what an image shows', () => {
  beforeEach(async () => {
    await discoverTags(A, [
      { image: 'app', tag: '1', digest: D1 },
      { image: 'failed', tag: '1', digest: D2 },
      { image: 'running', tag: '1', digest: D3 },
      { image: 'nojob', tag: '1', digest: D4 },
      { image: 'requeued', tag: '1', digest: D5 },
    ]);
    await discoverTags(B, [{ image: 'app', tag: '1', digest: D1 }]);
    await finding(D1, 'CVE-1', 'Critical');
    await finding(D1, 'CVE-2', 'High');
    await finding(D1, 'CVE-3', 'High');
    await finding(D1, 'CVE-4', 'Medium', T2); // fixed: not counted
    await finding(D5, 'CVE-1', 'Low');
    await SuppressionModel.create([
      { cveId: 'CVE-2', scope: 'registry', repository: A, reason: 'r', author: 'a' },
      // Not in force: expired (the sweep has not flipped it yet) and inactive.
      { cveId: 'CVE-3', scope: 'global', reason: 'r', author: 'a', expiresAt: new Date(Date.now() - 1000) },
      { cveId: 'CVE-1', scope: 'global', reason: 'r', author: 'a', active: false },
    ]);
    await job(D1, {
      state: 'failed',
      lastError: 'manifest unknown',
      result: result(50),
      firstScannedAt: T1,
      scannedAt: T2,
    });
    await job(D2, { state: 'failed', lastError: 'registry gone', result: null });
    await job(D3, { state: 'running', result: null });
    await job(D5, { state: 'queued', lastError: 'clair down', result: result(10), firstScannedAt: T1, scannedAt: T1 });
  });

  it('When a digest has findings, suppressions, a failed rescan and jobs in every state, then every image shows exactly the definitions', async () => {
    await recomputeImages([D1, D2, D3, D4, D5], testCtx);

    const score = (critical: number, high: number) =>
      computeScore({ critical, high, medium: 0, low: 0, negligible: 0, unknown: 0 }, 50, DEFAULT_WEIGHTS);
    // Registry A suppresses CVE-2; B does not. The fixed finding, the expired and the inactive suppression do not count.
    expect(await img(A, 'app')).toMatchObject({
      critical: 1,
      high: 1,
      medium: 0,
      packages: 50,
      namespace: 'debian:12',
      score: score(1, 1),
      scoreVersion: 0,
      // A failure after a successful scan keeps the results and says why the rescan failed.
      scanStatus: 'done',
      scanError: 'manifest unknown',
      created_at: T1,
      updated_at: T2,
    });
    expect(await img(B, 'app')).toMatchObject({ critical: 1, high: 2, score: score(1, 2), scanStatus: 'done' });
    expect(await img(A, 'failed')).toMatchObject({
      scanStatus: 'failed',
      scanError: 'registry gone',
      score: null,
      scoreVersion: null,
      packages: 0,
      created_at: null,
      updated_at: null,
    });
    expect(await img(A, 'running')).toMatchObject({ scanStatus: 'scanning', scanError: null, score: null });
    expect(await img(A, 'nojob')).toMatchObject({ scanStatus: 'pending', score: null, packages: 0, namespace: null });
    // Queued again with a result: still shows it; a queued job's lastError is not an error of the image.
    expect(await img(A, 'requeued')).toMatchObject({
      scanStatus: 'done',
      scanError: null,
      low: 1,
      packages: 10,
      created_at: T1,
      updated_at: T1,
    });
  });

  it('When nothing changed, then a second recompute writes no image', async () => {
    await recomputeImages([D1, D2, D3, D4, D5]);
    const before = await ImageModel.find({}).sort({ _id: 1 }).lean();

    expect(await recomputeImages([D1, D2, D3, D4, D5])).toBe(0);
    expect(await ImageModel.find({}).sort({ _id: 1 }).lean()).toEqual(before);
  });

  it('When the weights change, then scores name the version they were computed with and an older one is repaired by the drain', async () => {
    await recomputeImages([D1, D5]);
    const snap = await scoreService.update({ critical: 1 }, { batchSize: 100 }, testCtx);
    expect(snap.version).toBe(1);
    const weights = { ...DEFAULT_WEIGHTS, critical: 1 };
    // The re-score stamps every score with the new version.
    expect(await img(B, 'app')).toMatchObject({
      scoreVersion: 1,
      score: computeScore({ critical: 1, high: 2 }, 50, weights),
    });
    expect(await ImageModel.countDocuments({ score: { $ne: null }, scoreVersion: { $ne: 1 } })).toBe(0);

    // A recompute that read the old weights landed after the re-score (a race): the drain finds it by its version.
    await ImageModel.updateOne({ repository: B }, { $set: { scoreVersion: 0, score: 0.123 } });
    await ImageDirtyModel.deleteMany({}); // no marker covers it: only its version gives it away
    const drained = await owner().drain();

    expect(drained).toMatchObject({ stale: 1 });
    expect(await img(B, 'app')).toMatchObject({
      scoreVersion: 1,
      score: computeScore({ critical: 1, high: 2 }, 50, weights),
    });
    await ScoreSettingsModel.deleteMany({});
  });
});

describe('markers and reconcile repair what a crash left', () => {
  beforeEach(async () => {
    await discoverTags(A, [{ image: 'app', tag: '1', digest: D1 }]);
    await finding(D1, 'CVE-1', 'Critical');
    await job(D1, { state: 'done', result: result(20), firstScannedAt: T1, scannedAt: T1 });
    await recomputeImages([D1]);
  });

  it('When a writer marked a digest and crashed after its write but before recomputing, then the drain recomputes it and drops the marker', async () => {
    // What the scan worker does, cut off before its recompute: mark, then write findings and the job.
    await markImagesDirty([D1]);
    await finding(D1, 'CVE-9', 'High');
    await ScanJobModel.updateOne({ digest: D1 }, { $set: { result: result(30), scannedAt: T2 } });
    expect(await img(A, 'app')).toMatchObject({ high: 0, packages: 20 });

    // A young marker belongs to a writer that may still be recomputing: left alone.
    expect(await owner(60_000).drain()).toMatchObject({ digests: 0 });
    expect(await ImageDirtyModel.countDocuments()).toBe(1);

    expect(await owner(0).drain()).toMatchObject({ digests: 1 });
    expect(await img(A, 'app')).toMatchObject({ critical: 1, high: 1, packages: 30, updated_at: T2 });
    expect(await ImageDirtyModel.countDocuments()).toBe(0);
  });

  it('When a digest is marked again, then the marker moves its generation so a drain that read the old one keeps it', async () => {
    await markImagesDirty([D1]);
    const first = await ImageDirtyModel.findById(D1).lean();
    await markImagesDirty([D1]);
    const second = await ImageDirtyModel.findById(D1).lean();

    expect(second!.gen).toBe(first!.gen + 1);
    expect(second!.at.getTime()).toBeGreaterThanOrEqual(first!.at.getTime());
    // The drain's delete is guarded by the generation it read.
    expect((await ImageDirtyModel.deleteOne({ _id: D1, gen: first!.gen })).deletedCount).toBe(0);
  });

  it('When an image was corrupted by hand (or an old writer), then the reconcile pass repairs it and the images without a digest', async () => {
    await insertImages([buildImage({ repository: A, image: 'nodigest', digest: null, critical: 4, score: 1 })]);
    await ImageModel.updateOne(
      { repository: A, image: 'app' },
      { $set: { critical: 99, scanStatus: 'failed', scanError: 'x', score: 5, created_at: null } },
    );

    const res = await reconcileImages({ batch: 1 }, testCtx);

    expect(res).toMatchObject({ digests: 1, written: 2 });
    expect(await img(A, 'app')).toMatchObject({
      critical: 1,
      scanStatus: 'done',
      scanError: null,
      packages: 20,
      score: computeScore({ critical: 1 }, 20, DEFAULT_WEIGHTS),
      created_at: T1,
    });
    expect(await img(A, 'nodigest')).toMatchObject({
      critical: 0,
      score: null,
      packages: 0,
      scanStatus: 'pending',
      namespace: null,
    });
    // Forced through the owner too (under its lease), and a second run finds nothing to repair.
    expect(await owner().reconcile(true)).toMatchObject({ written: 0 });
  });

  it('When a tag moves to another digest, then discovery writes where it points and the images module derives the rest', async () => {
    await job(D2, { state: 'done', result: result(7), firstScannedAt: T2, scannedAt: T2 });
    await discoverTags(A, [{ image: 'app', tag: '1', digest: D2 }]);

    expect(await img(A, 'app')).toMatchObject({
      digest: D2,
      critical: 0,
      packages: 7,
      scanStatus: 'done',
      created_at: T2,
    });
  });
});

import type { AnyBulkWriteOperation } from 'mongoose';
import { bulkWriteCapped } from '../../db/batch';
import { computeScore, type Weights } from '../../domain/scoring';
import { LEVELS, emptyCounts, type Level, type LevelCounts } from '../../domain/severity';
import type { Ctx } from '../../http/context';
import { ImageModel, type ImageDoc } from '../images';
import { FindingModel } from '../scanner/finding.model';
import { subtractCounts } from '../scanner/findings.store';
import { loadActiveSuppressions, suppressedCounts } from './suppression.match';

const RANK_LEVEL: Record<number, Level> = {
  6: 'critical',
  5: 'high',
  4: 'medium',
  3: 'low',
  2: 'negligible',
  1: 'unknown',
};

/**
 * Recomputes the counts and score of every scanned image with one of `digests` from the stored
 * findings (no rescan): the digest's current findings per level, minus those a suppression in force
 * covers for that image. Writes only images whose numbers changed; returns how many.
 */
export async function recountDigests(digests: readonly string[], weights: Weights, now = new Date()): Promise<number> {
  if (!digests.length) return 0;
  const grouped = await FindingModel.aggregate<{ _id: { digest: string; rank: number }; n: number }>([
    { $match: { digest: { $in: digests }, fixedAt: null } },
    { $group: { _id: { digest: '$digest', rank: '$levelRank' }, n: { $sum: 1 } } },
  ]);
  const raw = new Map<string, LevelCounts>();
  for (const g of grouped) {
    const counts = raw.get(g._id.digest) ?? emptyCounts();
    counts[RANK_LEVEL[g._id.rank] ?? 'unknown'] += g.n;
    raw.set(g._id.digest, counts);
  }
  const images = await ImageModel.find(
    { digest: { $in: digests }, score: { $ne: null } },
    {
      repository: 1,
      image: 1,
      tag: 1,
      digest: 1,
      packages: 1,
      score: 1,
      ...Object.fromEntries(LEVELS.map((l) => [l, 1])),
    },
  ).lean<ImageDoc[]>();
  const minus = await suppressedCounts(images, await loadActiveSuppressions(now));
  const ops: AnyBulkWriteOperation[] = [];
  for (const img of images) {
    const digestCounts = raw.get(img.digest!) ?? emptyCounts();
    const off = minus.get(String(img._id));
    const counts = off ? subtractCounts(digestCounts, off) : digestCounts;
    const score = computeScore(counts, img.packages ?? 0, weights);
    if (score === img.score && LEVELS.every((l) => (img[l] ?? 0) === counts[l])) continue;
    ops.push({ updateOne: { filter: { _id: img._id }, update: { $set: { ...counts, score } } } });
  }
  await bulkWriteCapped(ImageModel, ops);
  return ops.length;
}

/**
 * Recounts every image whose digest has a current finding of one of `cveIds`: the digests come
 * from the findings' (cveId, fixedAt, digest) index, streamed and recounted in batches.
 */
export async function recountCves(
  cveIds: readonly string[],
  weights: Weights,
  opts: { batchSize: number },
  ctx: Ctx,
): Promise<number> {
  const started = Date.now();
  let changed = 0;
  let batch = new Set<string>();
  const cursor = FindingModel.find({ cveId: { $in: [...new Set(cveIds)] }, fixedAt: null }, { digest: 1, _id: 0 })
    .sort({ cveId: 1, fixedAt: 1, digest: 1 })
    .lean<{ digest: string }>()
    .batchSize(1000)
    .cursor();
  for await (const f of cursor) {
    batch.add(f.digest);
    if (batch.size >= opts.batchSize) {
      changed += await recountDigests([...batch], weights);
      batch = new Set();
    }
  }
  changed += await recountDigests([...batch], weights);
  ctx.log.info(
    { cveIds: cveIds.length, changed, ms: Date.now() - started },
    'images recounted after a suppression change',
  );
  return changed;
}

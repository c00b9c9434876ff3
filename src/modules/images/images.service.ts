import type { AnyBulkWriteOperation } from 'mongoose';
import { bulkWriteCapped, serverInfo, writeBatchSize } from '../../db/batch';
import { computeScore, type Weights } from '../../domain/scoring';
import { LEVELS } from '../../domain/severity';
import type { Ctx } from '../../http/context';
import { ImageModel, type ImageDoc } from './image.model';

const COUNT_FIELDS = Object.fromEntries([...LEVELS, 'packages', 'score', 'scoreVersion'].map((f) => [f, 1]));

/**
 * The score of `computeScore` as an aggregation expression over an image's stored counts, summed
 * in the same order (so the server's doubles equal the JavaScript ones).
 */
export function scoreExpression(weights: Weights): Record<string, unknown> {
  const maxWeight = Math.max(...LEVELS.map((l) => weights[l]));
  let sum: unknown = 0;
  for (const l of LEVELS) sum = { $add: [sum, { $multiply: [weights[l], { $ifNull: [`$${l}`, 0] }] }] };
  if (maxWeight <= 0) return { $literal: 0 };
  return {
    $cond: [
      { $eq: [sum, 0] },
      0,
      { $divide: [sum, { $multiply: [maxWeight, { $max: [{ $ifNull: ['$packages', 0] }, 1] }] }] },
    ],
  };
}

/**
 * Recomputes the score of every scanned image with `weights` and stamps it with their `version`
 * (the images' scoreVersion; omitted: left as it is). Where the server runs update pipelines
 * (MongoDB) this is one server-side `updateMany` over each document's own counts; elsewhere
 * (FerretDB 1.x) the images are streamed with a cursor and those whose score or version changes are
 * written in batches the server takes (src/db/batch.ts), each guarded by the counts it was computed
 * from (an image recomputed meanwhile keeps its own score; if that used older weights, its
 * scoreVersion says so and the images drainer repairs it), so memory stays flat whatever the size.
 * Returns the number of images written. Throws what the driver throws (translated at the edge).
 */
export async function rescoreAll(weights: Weights, batchSize: number, ctx: Ctx, version?: number): Promise<number> {
  const started = Date.now();
  const stamp = version === undefined ? {} : { scoreVersion: version };
  if ((await serverInfo()).updatePipelines) {
    const res = await ImageModel.updateMany(
      { score: { $ne: null } },
      [{ $set: { score: scoreExpression(weights), ...stamp } }],
      { updatePipeline: true },
    );
    ctx.log.info({ changed: res.modifiedCount, ms: Date.now() - started, serverSide: true }, 'images re-scored');
    return res.modifiedCount;
  }
  const size = await writeBatchSize(batchSize);
  const cursor = ImageModel.find({ score: { $ne: null } }, COUNT_FIELDS)
    .lean<Pick<ImageDoc, '_id' | 'packages' | 'score' | 'scoreVersion' | (typeof LEVELS)[number]>>()
    .batchSize(Math.max(batchSize, 100))
    .cursor();
  let ops: AnyBulkWriteOperation[] = [];
  let total = 0;
  for await (const img of cursor) {
    const score = computeScore(img, img.packages ?? 0, weights);
    if (score === img.score && (version === undefined || img.scoreVersion === version)) continue;
    const guard = Object.fromEntries([...LEVELS, 'packages'].map((f) => [f, img[f as keyof typeof img] ?? 0]));
    // A score the new weights leave as it was only gets its version stamp: what the image shows
    // did not change, so neither does its modifiedAt.
    const sameScore = score === img.score;
    ops.push({
      updateOne: {
        filter: { _id: img._id, ...guard, score: img.score },
        update: { $set: { score, ...stamp } },
        ...(sameScore ? { timestamps: false } : {}),
      },
    });
    total++;
    if (ops.length >= size) {
      await bulkWriteCapped(ImageModel, ops, { batchSize: size });
      ops = [];
    }
  }
  await bulkWriteCapped(ImageModel, ops, { batchSize: size });
  ctx.log.info({ changed: total, ms: Date.now() - started }, 'images re-scored');
  return total;
}

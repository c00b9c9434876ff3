import type { AnyBulkWriteOperation } from 'mongoose';
import { bulkWriteCapped, serverInfo, writeBatchSize } from '../../db/batch';
import { computeScore, type Weights } from '../../domain/scoring';
import { LEVELS } from '../../domain/severity';
import type { Ctx } from '../../http/context';
import { ImageModel, type ImageDoc } from './image.model';

const COUNT_FIELDS = Object.fromEntries([...LEVELS, 'packages', 'score'].map((f) => [f, 1]));

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
 * Recomputes the score of every scanned image with `weights`. Where the server runs update
 * pipelines (MongoDB) this is one server-side `updateMany`; elsewhere (FerretDB 1.x) the images are
 * streamed with a cursor and only those whose score changes are written, in batches the server
 * takes (src/db/batch.ts), so memory stays flat whatever the collection size.
 * Returns the number of images whose score changed. Throws what the driver throws (translated at the edge).
 */
export async function rescoreAll(weights: Weights, batchSize: number, ctx: Ctx): Promise<number> {
  const started = Date.now();
  if ((await serverInfo()).updatePipelines) {
    const res = await ImageModel.updateMany({ score: { $ne: null } }, [{ $set: { score: scoreExpression(weights) } }], {
      updatePipeline: true,
    });
    ctx.log.info({ changed: res.modifiedCount, ms: Date.now() - started, serverSide: true }, 'images re-scored');
    return res.modifiedCount;
  }
  const size = await writeBatchSize(batchSize);
  const cursor = ImageModel.find({ score: { $ne: null } }, COUNT_FIELDS)
    .lean<Pick<ImageDoc, '_id' | 'packages' | 'score' | (typeof LEVELS)[number]>>()
    .batchSize(Math.max(batchSize, 100))
    .cursor();
  let ops: AnyBulkWriteOperation[] = [];
  let total = 0;
  for await (const img of cursor) {
    const score = computeScore(img, img.packages ?? 0, weights);
    if (score === img.score) continue;
    ops.push({ updateOne: { filter: { _id: img._id }, update: { $set: { score } } } });
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

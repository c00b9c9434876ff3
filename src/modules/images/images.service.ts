import type { AnyBulkWriteOperation } from 'mongoose';
import { computeScore, type Weights } from '../../domain/scoring';
import { LEVELS } from '../../domain/severity';
import type { Ctx } from '../../http/context';
import { ImageModel, type ImageDoc } from './image.model';

const COUNT_FIELDS = Object.fromEntries([...LEVELS, 'packages', 'score'].map((f) => [f, 1]));

/**
 * Recomputes the score of every scanned image with `weights`, streaming the images with a cursor
 * and writing in unordered bulkWrite batches, so memory stays flat whatever the collection size.
 * Images whose score does not change are not written (a change to a weight no image uses, or one
 * that leaves the largest weight alone for images without that level, writes little).
 * Returns the number of images whose score changed. Throws what the driver throws (translated at the edge).
 */
export async function rescoreAll(weights: Weights, batchSize: number, ctx: Ctx): Promise<number> {
  const started = Date.now();
  const cursor = ImageModel.find({ score: { $ne: null } }, COUNT_FIELDS)
    .lean<Pick<ImageDoc, '_id' | 'packages' | 'score' | (typeof LEVELS)[number]>>()
    .batchSize(batchSize)
    .cursor();
  let ops: AnyBulkWriteOperation[] = [];
  let total = 0;
  const flush = async () => {
    if (!ops.length) return;
    const batch = ops;
    ops = [];
    await ImageModel.bulkWrite(batch, { ordered: false });
  };
  for await (const img of cursor) {
    const score = computeScore(img, img.packages ?? 0, weights);
    if (score === img.score) continue;
    ops.push({ updateOne: { filter: { _id: img._id }, update: { $set: { score } } } });
    total++;
    if (ops.length >= batchSize) await flush();
  }
  await flush();
  ctx.log.info({ changed: total, ms: Date.now() - started }, 'images re-scored');
  return total;
}

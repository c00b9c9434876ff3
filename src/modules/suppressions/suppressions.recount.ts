import type { Ctx } from '../../http/context';
import { markImagesDirty, recomputeImages } from '../images';
import { FindingModel } from '../scanner/finding.model';

/**
 * Marks the images of `digests` dirty and recomputes them (src/modules/images owns the counts and
 * scores; a suppression only changes which findings they leave out). Returns how many images changed.
 */
export async function recountDigests(digests: readonly string[], ctx?: Ctx): Promise<number> {
  if (!digests.length) return 0;
  await markImagesDirty(digests);
  return recomputeImages(digests, ctx);
}

/** Calls `fn` with batches of the digests that have a current finding of one of `cveIds` (index (cveId, fixedAt, digest)). */
async function eachDigestBatch(
  cveIds: readonly string[],
  batchSize: number,
  fn: (digests: string[]) => Promise<unknown>,
): Promise<void> {
  let batch = new Set<string>();
  const cursor = FindingModel.find({ cveId: { $in: [...new Set(cveIds)] }, fixedAt: null }, { digest: 1, _id: 0 })
    .sort({ cveId: 1, fixedAt: 1, digest: 1 })
    .lean<{ digest: string }>()
    .batchSize(1000)
    .cursor();
  for await (const f of cursor) {
    batch.add(f.digest);
    if (batch.size >= batchSize) {
      await fn([...batch]);
      batch = new Set();
    }
  }
  if (batch.size) await fn([...batch]);
}

/**
 * Marks dirty the images of every digest with a current finding of one of `cveIds`: call it BEFORE
 * a suppression of those CVEs is written, then recountCves after it.
 */
export async function markCvesImagesDirty(cveIds: readonly string[], opts: { batchSize: number }): Promise<void> {
  await eachDigestBatch(cveIds, opts.batchSize, (digests) => markImagesDirty(digests));
}

/**
 * Recomputes every image whose digest has a current finding of one of `cveIds`: the digests come
 * from the findings' (cveId, fixedAt, digest) index, streamed and recomputed in batches. Returns how
 * many images changed.
 */
export async function recountCves(cveIds: readonly string[], opts: { batchSize: number }, ctx: Ctx): Promise<number> {
  const started = Date.now();
  let changed = 0;
  await eachDigestBatch(cveIds, opts.batchSize, async (digests) => {
    changed += await recomputeImages(digests, ctx);
  });
  ctx.log.info(
    { cveIds: cveIds.length, changed, ms: Date.now() - started },
    'images recounted after a suppression change',
  );
  return changed;
}

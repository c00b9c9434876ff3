import { ImageModel, type ImageDoc } from '../images';
import { markCvesOfDigestsDirty } from '../vulnerabilities/cve-summaries';
import { FindingModel } from './finding.model';
import { ScanJobModel } from './scan-job.model';

/**
 * Deletes every image of registry `key`, then the findings and scan jobs of digests no other
 * registry's image still uses. Works in batches of `batchSize` images, so memory stays flat.
 * Returns how many images and orphaned findings went.
 */
export async function purgeRegistryImages(
  key: string,
  batchSize = 1000,
): Promise<{ images: number; findings: number }> {
  let images = 0;
  let findings = 0;
  for (;;) {
    const batch = await ImageModel.find({ repository: key }, { _id: 1, digest: 1 })
      .limit(batchSize)
      .lean<Array<{ _id: ImageDoc['_id']; digest: string | null }>>();
    if (!batch.length) break;
    const res = await ImageModel.deleteMany({ _id: { $in: batch.map((b) => b._id) } });
    images += res.deletedCount;
    const digests = [...new Set(batch.map((b) => b.digest).filter((d): d is string => Boolean(d)))];
    if (!digests.length) continue;
    // Now, while their findings still exist: the CVEs these images had lose them from their summaries.
    await markCvesOfDigestsDirty(digests);
    const stillUsed = new Set(await ImageModel.distinct<string>('digest', { digest: { $in: digests } }));
    const orphans = digests.filter((d) => !stillUsed.has(d));
    if (!orphans.length) continue;
    const f = await FindingModel.deleteMany({ digest: { $in: orphans } });
    findings += f.deletedCount;
    await ScanJobModel.deleteMany({ digest: { $in: orphans } });
  }
  return { images, findings };
}

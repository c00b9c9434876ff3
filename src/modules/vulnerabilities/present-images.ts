import { ImageModel, type ImageDoc } from '../images/image.model';

export type ImageRef = Pick<ImageDoc, '_id' | 'repository' | 'image' | 'tag' | 'platform' | 'digest'>;

/** Up to this many digests are looked up one equality query each, in parallel. */
export const EQUALITY_MAX = 100;

/**
 * Present image documents of `digests` (index digest). A few digests are asked one by one because
 * FerretDB pushes an equality filter down to its backend but not `$in` (which reads the whole
 * collection there); on MongoDB both are index-served.
 */
export async function presentImagesOf(
  digests: readonly string[],
  filter: Record<string, unknown> = {},
  equalityMax = EQUALITY_MAX,
): Promise<ImageRef[]> {
  if (!digests.length) return [];
  const projection = { repository: 1, image: 1, tag: 1, platform: 1, digest: 1 };
  if (digests.length <= equalityMax) {
    const parts = await Promise.all(
      digests.map((digest) => ImageModel.find({ digest, present: true, ...filter }, projection).lean<ImageRef[]>()),
    );
    return parts.flat();
  }
  return ImageModel.find({ digest: { $in: digests }, present: true, ...filter }, projection).lean<ImageRef[]>();
}

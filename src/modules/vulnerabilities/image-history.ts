import { LEVELS } from '../../domain/severity';
import { ImageModel, type ImageDoc } from '../images/image.model';
import { ImageHistoryModel, type ImageHistoryDoc } from './image-history.model';

type Point = Omit<ImageHistoryDoc, '_id'>;

const pointOf = (img: ImageDoc, at: Date): Point => {
  const p = {
    repository: img.repository,
    image: img.image,
    tag: img.tag,
    platform: img.platform,
    at,
    digest: img.digest!,
    packages: img.packages ?? 0,
    score: img.score ?? null,
  } as Point;
  for (const l of LEVELS) p[l] = img[l] ?? 0;
  return p;
};

const sameCounts = (a: Point, b: Pick<ImageHistoryDoc, (typeof LEVELS)[number] | 'packages' | 'score' | 'digest'>) =>
  LEVELS.every((l) => a[l] === b[l]) && a.packages === b.packages && a.score === b.score && a.digest === b.digest;

/**
 * Appends a history point to every present image the digest serves, from the image documents as
 * applySummary (and any per-image adjustment) left them. With `onlyIfChanged` (periodic refresh),
 * an image whose counts, packages, score and digest equal its last point gets none.
 * Returns how many points were written.
 */
export async function recordScan(digest: string, at: Date, opts: { onlyIfChanged?: boolean } = {}): Promise<number> {
  const images = await ImageModel.find({ digest, present: true }).lean<ImageDoc[]>();
  const points: Point[] = [];
  for (const img of images) {
    const p = pointOf(img, at);
    if (opts.onlyIfChanged) {
      const last = await ImageHistoryModel.findOne({ repository: img.repository, image: img.image, tag: img.tag })
        .where('platform', img.platform)
        .sort({ at: -1 })
        .lean<ImageHistoryDoc>();
      if (last && sameCounts(p, last)) continue;
    }
    points.push(p);
  }
  if (points.length) await ImageHistoryModel.insertMany(points, { ordered: false });
  return points.length;
}

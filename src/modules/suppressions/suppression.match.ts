import type mongoose from 'mongoose';
import { emptyCounts, normaliseLevel, type LevelCounts } from '../../domain/severity';
import { FindingModel } from '../scanner/finding.model';
import { SuppressionModel, type SuppressionDoc } from './suppression.model';

// This file imports the scanner's finding model directly (not through ../scanner) because the
// scanner's findings store imports this file: going through index.ts would close an import cycle.

/** What a suppression is matched against: one image (tag × platform) in one registry. */
export interface ImageRef {
  repository: string;
  image: string;
  tag: string;
}

export type ActiveSuppression = Pick<SuppressionDoc, 'cveId' | 'scope' | 'repository' | 'image' | 'tag'>;

/**
 * Every suppression in force at `now`: active and not past its expiry (an expired one the sweep
 * has not flipped yet already stops counting here). Suppressions are few and user-made, so all are loaded.
 */
export async function loadActiveSuppressions(now = new Date()): Promise<ActiveSuppression[]> {
  return SuppressionModel.find(
    { active: true, $or: [{ expiresAt: null }, { expiresAt: { $gt: now } }] },
    { cveId: 1, scope: 1, repository: 1, image: 1, tag: 1 },
  ).lean<ActiveSuppression[]>();
}

/** True when `s` covers `img` (whatever the CVE). */
export function coversImage(s: ActiveSuppression, img: ImageRef): boolean {
  switch (s.scope) {
    case 'global':
      return true;
    case 'registry':
      return s.repository === img.repository;
    case 'image':
      return s.repository === img.repository && s.image === img.image;
    case 'tag':
      return s.repository === img.repository && s.image === img.image && s.tag === img.tag;
  }
}

/** The CVE ids suppressed for one image. */
export function suppressedCves(sups: readonly ActiveSuppression[], img: ImageRef): Set<string> {
  return new Set(sups.filter((s) => coversImage(s, img)).map((s) => s.cveId));
}

/**
 * For each image (keyed by its `_id` as a string), the per-level counts of its digest's current
 * findings that a suppression covers: what to take off the digest's counts for that image. Images
 * no suppression touches are absent. One findings query for all the images' digests, served by the
 * (digest, fixedAt, cveId) index and bounded by the suppressed CVE ids.
 */
export async function suppressedCounts(
  images: ReadonlyArray<ImageRef & { _id: mongoose.Types.ObjectId | string; digest: string | null }>,
  sups: readonly ActiveSuppression[],
): Promise<Map<string, LevelCounts>> {
  const out = new Map<string, LevelCounts>();
  const perImage = images
    .filter((img) => img.digest)
    .map((img) => ({ img, cves: suppressedCves(sups, img) }))
    .filter((x) => x.cves.size > 0);
  if (!perImage.length) return out;
  const digests = [...new Set(perImage.map((x) => x.img.digest!))];
  const cves = [...new Set(perImage.flatMap((x) => [...x.cves]))];
  const findings = await FindingModel.find(
    { digest: { $in: digests }, fixedAt: null, cveId: { $in: cves } },
    { digest: 1, cveId: 1, level: 1 },
  ).lean<Array<{ digest: string; cveId: string; level: string }>>();
  const byDigest = new Map<string, Array<{ cveId: string; level: string }>>();
  for (const f of findings) {
    const list = byDigest.get(f.digest) ?? [];
    list.push(f);
    byDigest.set(f.digest, list);
  }
  for (const { img, cves: suppressed } of perImage) {
    const counts = emptyCounts();
    let any = false;
    for (const f of byDigest.get(img.digest!) ?? []) {
      if (!suppressed.has(f.cveId)) continue;
      counts[normaliseLevel(f.level)]++;
      any = true;
    }
    if (any) out.set(String(img._id), counts);
  }
  return out;
}

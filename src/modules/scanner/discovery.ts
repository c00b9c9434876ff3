import type { AnyBulkWriteOperation } from 'mongoose';
import type { RegistryClient } from '../../clients/registry/registry.types';
import type { ImageLister, ListedImage } from '../../clients/registry/vendors';
import { AppError, NotFoundError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import { ImageModel } from '../images';
import { markDigestsDirty } from '../vulnerabilities/cve-summaries';

/** One platform image a tag resolves to. */
export interface ResolvedTag {
  image: string;
  tag: string;
  platform: string;
  /** Platform manifest digest (what the scanner indexes). */
  digest: string;
  /** What the tag points at (the index digest for multi-platform tags). */
  tagDigest: string;
}

const ATTESTATION = 'attestation-manifest';

/** True when `platform` (os/arch[/variant]) is one of `wanted`; a wanted entry without variant matches every variant. */
export function platformWanted(platform: string, wanted: readonly string[]): boolean {
  return wanted.some((w) => w === platform || (w.split('/').length === 2 && platform.startsWith(`${w}/`)));
}

/**
 * Resolves a tag to the platform images to scan: a single manifest gives its own platform (from
 * its config blob); a manifest list or OCI index gives each wanted platform, skipping attestation
 * manifests and unknown/unknown entries.
 */
export async function resolveTag(
  client: RegistryClient,
  image: string,
  tag: string,
  platforms: readonly string[],
  ctx: Ctx,
): Promise<ResolvedTag[]> {
  const fetched = await client.getManifest(image, tag, ctx);
  const m = fetched.manifest;
  if (m.kind === 'index') {
    const out: ResolvedTag[] = [];
    for (const d of m.manifests) {
      if (d.annotations?.['vnd.docker.reference.type'] === ATTESTATION) continue;
      const p = d.platform;
      if (!p || !p.os || !p.architecture || p.os === 'unknown' || p.architecture === 'unknown') continue;
      const platform = [p.os, p.architecture, p.variant].filter(Boolean).join('/');
      if (!platformWanted(platform, platforms)) continue;
      out.push({ image, tag, platform, digest: d.digest, tagDigest: fetched.digest });
    }
    return out;
  }
  let platform = 'unknown/unknown';
  try {
    const cfg = await client.getImageConfig(image, m.config.digest, ctx);
    platform = [cfg.os, cfg.architecture, cfg.variant].filter(Boolean).join('/');
  } catch (err) {
    ctx.log.warn({ image, tag, err: (err as Error).message }, 'image config unreadable; platform unknown');
  }
  return [{ image, tag, platform, digest: fetched.digest, tagDigest: fetched.digest }];
}

/** Every image and its tags: the vendor lister when the kind has one, else `_catalog` and tag lists. */
export async function* listImages(
  client: RegistryClient,
  lister: ImageLister | null,
  filter: { image?: string; tag?: string },
  ctx: Ctx,
): AsyncGenerator<ListedImage> {
  if (filter.image && filter.tag) {
    yield { image: filter.image, tags: [filter.tag] };
    return;
  }
  if (filter.image && !lister) {
    const tags: string[] = [];
    for await (const t of client.listTags(filter.image, ctx)) tags.push(t);
    yield { image: filter.image, tags };
    return;
  }
  if (lister) {
    for await (const listed of lister.listImages(ctx)) {
      if (filter.image && listed.image !== filter.image) continue;
      yield filter.tag ? { image: listed.image, tags: listed.tags.filter((t) => t === filter.tag) } : listed;
    }
    return;
  }
  for await (const name of client.listRepositories(ctx)) {
    const tags: string[] = [];
    try {
      for await (const t of client.listTags(name, ctx)) tags.push(t);
    } catch (err) {
      // A repository listed by the catalog whose tags are gone (deleted) has no tags; anything else stops discovery.
      if (!(err instanceof NotFoundError)) throw err;
    }
    yield { image: name, tags };
  }
}

export interface DiscoveryStats {
  images: number;
  tags: number;
  platformImages: number;
  skippedTags: number;
  vanished: number;
  digests: Set<string>;
}

/**
 * Upserts one batch of resolved tags for registry `key`. A tag whose digest changed goes back to
 * `pending` with its counts cleared (they belonged to the old digest); a tag seen again keeps them.
 * Returns the (digest → pull source) of the batch.
 */
export async function upsertResolved(
  key: string,
  batch: readonly ResolvedTag[],
  seenAt: Date,
): Promise<Map<string, { image: string }>> {
  const sources = new Map<string, { image: string }>();
  if (!batch.length) return sources;
  const images = [...new Set(batch.map((r) => r.image))];
  const current = new Map<string, string | null>();
  const absent = new Set<string>();
  const docs = await ImageModel.find(
    { repository: key, image: { $in: images }, tag: { $in: [...new Set(batch.map((r) => r.tag))] } },
    { image: 1, tag: 1, platform: 1, digest: 1, present: 1 },
  ).lean<Array<{ image: string; tag: string; platform: string; digest: string | null; present: boolean }>>();
  for (const d of docs) {
    current.set(`${d.image}\u0000${d.tag}\u0000${d.platform}`, d.digest);
    if (d.present === false) absent.add(`${d.image}\u0000${d.tag}\u0000${d.platform}`);
  }
  // Digests that gained or lost a present tag here: the CVE summaries of their findings change.
  const moved: Array<string | null | undefined> = [];

  const ops: AnyBulkWriteOperation[] = batch.map((r) => {
    sources.set(r.digest, { image: r.image });
    const k = `${r.image}\u0000${r.tag}\u0000${r.platform}`;
    const known = current.has(k);
    if (!known || absent.has(k) || current.get(k) !== r.digest) moved.push(r.digest, current.get(k));
    const set: Record<string, unknown> = { digest: r.digest, tagDigest: r.tagDigest, present: true, seenAt };
    if (known && current.get(k) !== r.digest) {
      Object.assign(set, {
        scanStatus: 'pending',
        scanError: null,
        score: null,
        packages: 0,
        namespace: null,
        critical: 0,
        high: 0,
        medium: 0,
        low: 0,
        negligible: 0,
        unknown: 0,
      });
    }
    return {
      updateOne: {
        filter: { repository: key, image: r.image, tag: r.tag, platform: r.platform },
        update: known ? { $set: set } : { $set: set, $setOnInsert: { scanStatus: 'pending' } },
        upsert: true,
      },
    };
  });
  await ImageModel.bulkWrite(ops, { ordered: false });
  await markDigestsDirty(moved);
  return sources;
}

/** Marks tags of `key` not seen by the discovery that started at `seenAt` as vanished (kept, not deleted). */
export async function markVanished(key: string, seenAt: Date, image?: string): Promise<number> {
  const filter = {
    repository: key,
    ...(image ? { image } : {}),
    present: true,
    $or: [{ seenAt: { $lt: seenAt } }, { seenAt: null }],
  };
  // Read before the update (after it the filter matches nothing), marked after it (so no summary pass sees the old state last).
  const vanishing = (await ImageModel.distinct('digest', filter)) as string[];
  const res = await ImageModel.updateMany(filter, { $set: { present: false } });
  await markDigestsDirty(vanishing);
  return res.modifiedCount;
}

/**
 * The registry failed as a whole (5xx, 429 after its retries, or no connection), whatever the
 * request: the discovery must stop (and mark nothing vanished), not skip the tag.
 */
function registryUnavailable(err: unknown): boolean {
  return (
    err instanceof AppError &&
    /answered HTTP (5\d\d|429)|connection refused|closed the connection|no answer from|reset the connection|unreachable|cannot resolve/i.test(
      err.message,
    )
  );
}

/** True for errors that concern one tag only (its manifest vanished or is unsupported); discovery goes on. */
export function isPerTagError(err: unknown): boolean {
  if (registryUnavailable(err)) return false;
  return err instanceof NotFoundError || (err instanceof AppError && /manifest|media type|schema/i.test(err.message));
}

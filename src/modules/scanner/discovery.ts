import type { AnyBulkWriteOperation } from 'mongoose';
import { UnsupportedMediaTypeError, type RegistryClient } from '../../clients/registry/registry.types';
import type { ImageLister, ListedImage } from '../../clients/registry/vendors';
import { bulkWriteCapped } from '../../db/batch';
import { NotFoundError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import { ImageModel, markImagesDirty, noDigestState, recomputeImages, type ImageDoc } from '../images';
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

/** Config media types of container images; any other config (Helm, cosign, OCI artifacts) is not an image. */
const IMAGE_CONFIG_TYPES = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);
const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

/**
 * Tags that name signatures, attestations, SBOMs or referrers of another manifest rather than an
 * image: cosign's `sha256-<hex>.sig|.att|.sbom` and the OCI referrers tag schema `sha256-<hex>`.
 */
export function isArtifactTag(tag: string): boolean {
  return /^sha256-[0-9a-f]{64}(?:\.[a-z]+)?$/i.test(tag);
}

/** True when `platform` (os/arch[/variant]) is one of `wanted`; a wanted entry without variant matches every variant. */
export function platformWanted(platform: string, wanted: readonly string[]): boolean {
  return wanted.some((w) => w === platform || (w.split('/').length === 2 && platform.startsWith(`${w}/`)));
}

/**
 * Resolves a tag to the platform images to scan: a single manifest gives its own platform (from
 * its config blob); a manifest list or OCI index gives each wanted platform, skipping attestation
 * manifests, unknown/unknown entries and entries that are not manifests. A manifest whose config
 * is not an image config (a Helm chart, a signature, an OCI artifact) gives nothing.
 * Throws NotFoundError (tag or config gone), UnsupportedMediaTypeError, or RegistryError.
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
      if (!MANIFEST_TYPES.has(d.mediaType)) continue;
      const p = d.platform;
      if (!p || !p.os || !p.architecture || p.os === 'unknown' || p.architecture === 'unknown') continue;
      const platform = [p.os, p.architecture, p.variant].filter(Boolean).join('/');
      if (!platformWanted(platform, platforms)) continue;
      out.push({ image, tag, platform, digest: d.digest, tagDigest: fetched.digest });
    }
    return out;
  }
  if (!IMAGE_CONFIG_TYPES.has(m.config.mediaType)) {
    ctx.log.debug({ image, tag, config: m.config.mediaType }, 'not a container image; skipped');
    return [];
  }
  let platform = 'unknown/unknown';
  try {
    const cfg = await client.getImageConfig(image, m.config.digest, ctx);
    platform = [cfg.os, cfg.architecture, cfg.variant].filter(Boolean).join('/');
  } catch (err) {
    // A config the registry lost leaves the platform unknown; any other failure is the registry's and stops discovery.
    if (!(err instanceof NotFoundError)) throw err;
    ctx.log.warn({ image, tag, err: err.message }, 'image config not found; platform unknown');
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

/** One stored image (tag × platform) of a registry, as discovery compares it with the listing. */
export interface StoredTag {
  _id: ImageDoc['_id'];
  image: string;
  tag: string;
  platform: string;
  digest: string | null;
  tagDigest: string | null;
  present: boolean;
  scanStatus: string;
  seenAt: Date | null;
}

const tagKey = (image: string, tag: string) => `${image}\u0000${tag}`;
const platformKey = (r: { image: string; tag: string; platform: string }) =>
  `${r.image}\u0000${r.tag}\u0000${r.platform}`;

/** The stored images of a registry (or of one image of it), read once with a cursor, grouped by tag. */
export class StoredTags {
  private readonly byTag = new Map<string, StoredTag[]>();

  static async load(key: string, image?: string): Promise<StoredTags> {
    const out = new StoredTags();
    const cursor = ImageModel.find(
      { repository: key, ...(image ? { image } : {}) },
      { image: 1, tag: 1, platform: 1, digest: 1, tagDigest: 1, present: 1, scanStatus: 1, seenAt: 1 },
    )
      .lean<StoredTag>()
      .batchSize(1000)
      .cursor();
    for await (const d of cursor) out.add(d);
    return out;
  }

  add(d: StoredTag): void {
    const k = tagKey(d.image, d.tag);
    const list = this.byTag.get(k);
    if (list) list.push(d);
    else this.byTag.set(k, [d]);
  }

  of(image: string, tag: string): readonly StoredTag[] {
    return this.byTag.get(tagKey(image, tag)) ?? [];
  }

  get(r: { image: string; tag: string; platform: string }): StoredTag | undefined {
    return this.of(r.image, r.tag).find((d) => d.platform === r.platform);
  }

  /**
   * The stored images of a tag when the registry still points it at `tagDigest` and all of them
   * are present: nothing about the tag changed, so its manifest need not be read again. Null otherwise.
   */
  unchanged(image: string, tag: string, tagDigest: string | null): readonly StoredTag[] | null {
    if (!tagDigest) return null;
    const list = this.of(image, tag);
    if (!list.length || !list.every((d) => d.tagDigest === tagDigest && d.present && d.digest)) return null;
    return list;
  }

  /** Present images not in `seen` (keys of platformKey), optionally of one image. */
  vanished(seen: ReadonlySet<string>, image?: string): StoredTag[] {
    const out: StoredTag[] = [];
    for (const list of this.byTag.values())
      for (const d of list) if (d.present && (!image || d.image === image) && !seen.has(platformKey(d))) out.push(d);
    return out;
  }
}

export { platformKey };

/**
 * Writes one batch of resolved tags for registry `key`: new tags are inserted, a tag whose digest
 * changed points at the new one, a tag that came back gets `present` again; the images of new and
 * changed tags are then derived from their digest (src/modules/images: a digest scanned already
 * shows its results at once, a new one `pending`). With `stored` (the registry's images read at the start of
 * the discovery), a tag stored with the same digests and present is not written at all.
 * Returns the (digest → pull source) of the batch.
 */
export async function upsertResolved(
  key: string,
  batch: readonly ResolvedTag[],
  seenAt: Date,
  stored?: StoredTags,
): Promise<Map<string, { image: string }>> {
  const sources = new Map<string, { image: string }>();
  if (!batch.length) return sources;
  let known = stored;
  if (!known) {
    known = new StoredTags();
    const docs = await ImageModel.find(
      {
        repository: key,
        image: { $in: [...new Set(batch.map((r) => r.image))] },
        tag: { $in: [...new Set(batch.map((r) => r.tag))] },
      },
      { image: 1, tag: 1, platform: 1, digest: 1, tagDigest: 1, present: 1, scanStatus: 1, seenAt: 1 },
    ).lean<StoredTag[]>();
    for (const d of docs) known.add(d);
  }
  // Digests that gained or lost a present tag here: the CVE summaries of their findings change.
  const moved: Array<string | null | undefined> = [];
  // Digests whose images are new or changed digest: what those images show is derived again.
  const rederive = new Set<string>();

  const ops: AnyBulkWriteOperation[] = [];
  for (const r of batch) {
    sources.set(r.digest, { image: r.image });
    const old = known.get(r);
    // Without the snapshot (factories, pushes) every tag is written, so `seenAt` moves for markVanished.
    if (stored && old && old.present && old.digest === r.digest && old.tagDigest === r.tagDigest) continue;
    const arrived = !old || !old.present || old.digest !== r.digest;
    if (arrived) moved.push(r.digest, old?.digest);
    if (!old || old.digest !== r.digest) {
      rederive.add(r.digest);
      if (old?.digest) rederive.add(old.digest);
    }
    // Discovery writes where a tag points and whether it is listed; the counts, score and scan state
    // belong to the images module, which derives them for the new digest below.
    const set: Record<string, unknown> = { digest: r.digest, tagDigest: r.tagDigest, present: true, seenAt };
    // The digest is new to this tag: its receivers hear about it (alerts.outbox.ts), written with the tag.
    if (arrived) set.alertPending = true;
    ops.push({
      updateOne: {
        filter: { repository: key, image: r.image, tag: r.tag, platform: r.platform },
        update: old ? { $set: set } : { $set: set, $setOnInsert: noDigestState() },
        upsert: true,
      },
    });
  }
  // Marked before the write (a crash between the two leaves the marker for the images drainer).
  await markImagesDirty(rederive);
  await bulkWriteCapped(ImageModel, ops);
  await recomputeImages(rederive);
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
 * Marks the given stored images vanished, unless a discovery that started after `seenAt` saw them
 * meanwhile (a push's single-tag discovery). Returns how many were marked.
 */
export async function markVanishedImages(images: readonly StoredTag[], seenAt: Date): Promise<number> {
  let modified = 0;
  for (let i = 0; i < images.length; i += 1000) {
    const slice = images.slice(i, i + 1000);
    const res = await ImageModel.updateMany(
      { _id: { $in: slice.map((d) => d._id) }, present: true, $or: [{ seenAt: { $lt: seenAt } }, { seenAt: null }] },
      { $set: { present: false } },
    );
    modified += res.modifiedCount;
  }
  await markDigestsDirty(images.map((d) => d.digest));
  return modified;
}

/**
 * True for errors that concern one tag only: its manifest is gone (404) or of a media type this
 * service does not scan. Any other error (403, 5xx, timeout, a bad reply) is the registry's, and
 * stops the discovery before anything is marked vanished.
 */
export function isPerTagError(err: unknown): boolean {
  return err instanceof NotFoundError || err instanceof UnsupportedMediaTypeError;
}

import type mongoose from 'mongoose';
import type { ClairClient } from '../../clients/clair';
import type { Config } from '../../config';
import { bulkWriteCapped, insertManyCapped } from '../../db/batch';
import { acquireLease, keepLease, readLease, releaseLease, type HeldLease } from '../../db/lease';
import { NotFoundError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import { ImageModel, markImagesDirty, recomputeImages, type ImageDoc } from '../images';
import type { RegistriesService } from '../registries';
import {
  isArtifactTag,
  isPerTagError,
  listImages,
  markVanishedImages,
  platformKey,
  resolveTag,
  StoredTags,
  upsertResolved,
  type ResolvedTag,
} from './discovery';
import { loadActiveSuppressions, suppressedCves } from '../suppressions/suppression.match';
import { FINDING_SORT_FIELDS, FindingModel, type FindingDoc } from './finding.model';
import { ScanJobModel, type ScanJobDoc } from './scan-job.model';
import type {
  FindingView,
  GetImageQuery,
  ImageView,
  JobsProgress,
  ListFindingsBody,
  ListImagesBody,
  ScanRequestBody,
} from './scanner.schemas';

export interface ScannerDeps {
  registries: RegistriesService;
  clair: ClairClient;
  scan: Config['scan'];
  /** Owner id of this instance's leases. */
  instance: string;
  /** Called when a discovery queued jobs (wakes this process's idle scan loops, so scanning starts while discovery goes on). */
  onQueued?: () => void;
}

export interface DiscoveryResult {
  repository: string;
  tags: number;
  platformImages: number;
  /** Tags not resolved: gone meanwhile (404), an unsupported media type, or not a container image. */
  skippedTags: number;
  /** Tags whose manifest digest (HEAD) matched the stored one: not read again, not written. */
  unchanged: number;
  vanished: number;
  digests: number;
  queued: number;
}

/** Runs `fn` over `items`, at most `limit` at once; rejects with the first error once the others settled. */
export async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | null = null;
  const lane = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        signal?.throwIfAborted();
        await fn(item);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failed) throw (failed as { err: unknown }).err;
}

/** Escapes a search term so that it matches literally (never a regular expression). */
export function literal(term: string): RegExp {
  return new RegExp(term.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'), 'i');
}

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export function toImageView(d: ImageDoc): ImageView {
  const view: ImageView = {
    repository: d.repository,
    image: d.image,
    tag: d.tag,
    name: `${d.repository}/${d.image}:${d.tag}`,
    platform: d.platform,
    digest: d.digest ?? null,
    namespace: d.namespace ?? null,
    critical: d.critical ?? 0,
    high: d.high ?? 0,
    medium: d.medium ?? 0,
    low: d.low ?? 0,
    negligible: d.negligible ?? 0,
    unknown: d.unknown ?? 0,
    packages: d.packages ?? 0,
    score: d.score ?? null,
    scanStatus: d.scanStatus as ImageView['scanStatus'],
    present: d.present !== false,
    created_at: iso(d.created_at),
    updated_at: iso(d.updated_at),
  };
  if (d.scanStatus === 'failed') view.scanError = d.scanError ?? 'scan failed';
  return view;
}

function toFindingView(
  f: FindingDoc,
  img: { repository: string; image: string; tag: string },
  suppressed: ReadonlySet<string>,
): FindingView {
  return {
    description: f.description ?? '',
    link: f.link ?? '',
    level: f.level as FindingView['level'],
    type: f.type,
    versionFormat: f.versionFormat ?? '',
    version: f.version ?? '',
    fixedBy: f.fixedBy ?? '',
    repository: img.repository,
    image: img.image,
    tag: img.tag,
    cveId: f.cveId,
    created_at: iso(f.created_at) as string,
    updated_at: iso(f.updated_at) as string,
    suppressed: suppressed.has(f.cveId),
  };
}

const BATCH = 200;

/** A filter built field by field (search terms, optional registry). */
type ImageFilter = mongoose.QueryFilter<ImageDoc>;

export interface ScannerService {
  listImages(body: ListImagesBody): Promise<{ docs: ImageView[]; count: number }>;
  getImage(q: GetImageQuery): Promise<ImageView>;
  listFindings(body: ListFindingsBody): Promise<{ docs: FindingView[]; count: number }>;
  /**
   * Checks the registry answers, then discovers and enqueues in the background (a whole registry
   * can take long). `started` is false when a discovery of that registry is already running.
   */
  requestScan(
    body: ScanRequestBody & { repository: string },
    ctx: Ctx,
  ): Promise<{ repository: string; image?: string; tag?: string; started: boolean }>;
  /**
   * Scan-all: starts, in the background, a discovery (and so the scans) of every registry whose
   * discovery is not running already. Nothing is pinged first: an unreachable registry's discovery
   * fails on its own and records its error (GET /api/scanner/jobs?repository=).
   */
  scanAll(
    body: { force?: boolean },
    ctx: Ctx,
  ): Promise<{ all: true; started: number; registries: Array<{ repository: string; started: boolean }> }>;
  /** Starts a background discovery of one registry (no ping first); started false when one is running. */
  scanRegistry(repository: string, ctx: Ctx): Promise<{ repository: string; started: boolean }>;
  /** Discovers now (awaited) and enqueues a job for every digest that needs one. Null when another instance holds the registry's discovery. */
  discover(
    req: { repository: string; image?: string; tag?: string; force?: boolean },
    ctx: Ctx,
  ): Promise<DiscoveryResult | null>;
  progress(repository: string | undefined): Promise<JobsProgress>;
  /** Resolves when every discovery this instance started in the background has ended. */
  idle(): Promise<void>;
}

export function createScannerService(deps: ScannerDeps): ScannerService {
  const background = new Set<Promise<unknown>>();

  async function registryKeyOf(param: string): Promise<string> {
    return (await deps.registries.resolve(param)).key;
  }

  async function findImage(q: {
    repository: string;
    image: string;
    tag: string;
    platform?: string;
  }): Promise<ImageDoc> {
    const key = await registryKeyOf(q.repository);
    const docs = await ImageModel.find({
      repository: key,
      image: q.image,
      tag: q.tag,
      ...(q.platform ? { platform: q.platform } : {}),
    })
      .limit(20)
      .lean<ImageDoc[]>();
    if (!docs.length) {
      throw new NotFoundError(`image ${key}/${q.image}:${q.tag}${q.platform ? ` (${q.platform})` : ''} not found`);
    }
    // Several platforms: the first configured one, then any.
    const rank = (p: string) => {
      const i = deps.scan.platforms.indexOf(p);
      return i < 0 ? deps.scan.platforms.length : i;
    };
    docs.sort(
      (a, b) => Number(b.present !== false) - Number(a.present !== false) || rank(a.platform) - rank(b.platform),
    );
    return docs[0]!;
  }

  /** Enqueues what a batch of digests needs: new digests get a job, failed (and with force, done) ones are queued again, done ones lend their results to new tags. */
  async function ensureJobs(
    key: string,
    sources: Map<string, { image: string }>,
    force: boolean,
    needSummary: ReadonlySet<string> | null,
    ctx: Ctx,
  ): Promise<number> {
    if (!sources.size) return 0;
    const digests = [...sources.keys()];
    const now = new Date();
    const jobs = await ScanJobModel.find(
      { digest: { $in: digests } },
      { digest: 1, state: 1, result: 1, finishedAt: 1 },
    ).lean<ScanJobDoc[]>();
    const byDigest = new Map(jobs.map((j) => [j.digest, j]));
    const fresh = digests
      .filter((d) => !byDigest.has(d))
      .map((digest) => ({
        digest,
        repository: key,
        image: sources.get(digest)!.image,
        state: 'queued',
        attempts: 0,
        lastError: null,
        notBefore: now,
        leaseOwner: null,
        leaseUntil: null,
        queuedAt: now,
        startedAt: null,
        finishedAt: null,
        durationMs: null,
        firstScannedAt: null,
        scannedAt: null,
        result: null,
        indexState: null,
      }));
    let queued = 0;
    // A duplicate digest: another discovery queued it first.
    queued += await insertManyCapped(ScanJobModel.collection, fresh, { ignoreDuplicates: true });
    const requeue = jobs.filter((j) => j.state === 'failed' || (force && j.state === 'done'));
    if (requeue.length) {
      // A failed digest shows `pending` again once queued: its images are marked before the write.
      await markImagesDirty(requeue.map((j) => j.digest));
      await bulkWriteCapped(
        ScanJobModel,
        requeue.map((j) => ({
          updateOne: {
            filter: { _id: j._id, state: j.state },
            update: {
              $set: {
                state: 'queued',
                attempts: 0,
                notBefore: now,
                queuedAt: now,
                repository: key,
                image: sources.get(j.digest)!.image,
              },
            },
          },
        })),
      );
      await recomputeImages(
        requeue.map((j) => j.digest),
        ctx,
      );
      queued += requeue.length;
    }
    // Tags that do not show their done digest's results yet (the images module derives them; this
    // repairs one left behind, e.g. by a crash, without waiting for the reconcile).
    const reuse = jobs.filter(
      (j) => j.state === 'done' && !force && j.result && (!needSummary || needSummary.has(j.digest)),
    );
    if (reuse.length) {
      await recomputeImages(
        reuse.map((j) => j.digest),
        ctx,
      );
    }
    if (queued > 0) deps.onQueued?.();
    ctx.log.debug({ registry: key, digests: digests.length, queued, reused: reuse.length }, 'scan jobs ensured');
    return queued;
  }

  /**
   * Lists the registry, diffs the listing against its stored images (read once) and writes only
   * what changed: a tag whose manifest digest (`HEAD`) matches the stored one is neither read again
   * nor written; new and changed tags are resolved (manifest, config) and upserted; stored tags not
   * listed any more are marked vanished. Per-tag 404s and unsupported media types skip the tag; any
   * other error stops the discovery before the vanish step (the caller records it). `ctx.signal`
   * (the registry's discovery lease) cancels the registry calls in flight and is checked before every
   * write, so a discovery that lost its lease writes nothing more and never marks anything vanished.
   */
  async function runDiscovery(
    key: string,
    req: { image?: string; tag?: string; force?: boolean },
    ctx: Ctx,
  ): Promise<DiscoveryResult> {
    const started = new Date();
    const { client, lister } = await deps.registries.clientFor(key, ctx);
    const result: DiscoveryResult = {
      repository: key,
      tags: 0,
      platformImages: 0,
      skippedTags: 0,
      unchanged: 0,
      vanished: 0,
      digests: 0,
      queued: 0,
    };
    const stored = await StoredTags.load(key, req.image);
    const seen = new Set<string>();
    const seenDigests = new Set<string>();
    let batch: ResolvedTag[] = [];
    let unchangedSources = new Map<string, { image: string }>();
    let needSummary = new Set<string>();
    const flush = async () => {
      if (!batch.length && !unchangedSources.size) return;
      ctx.signal?.throwIfAborted();
      for (const r of batch) {
        const old = stored.get(r);
        if (!old || old.digest !== r.digest || old.scanStatus !== 'done') needSummary.add(r.digest);
      }
      const sources = await upsertResolved(key, batch, started, stored);
      for (const [d, s] of unchangedSources) if (!sources.has(d)) sources.set(d, s);
      for (const d of sources.keys()) seenDigests.add(d);
      const need = needSummary;
      batch = [];
      unchangedSources = new Map();
      needSummary = new Set();
      result.queued += await ensureJobs(key, sources, Boolean(req.force), need, ctx);
    };
    const resolveOne = async (image: string, tag: string) => {
      result.tags++;
      if (isArtifactTag(tag)) {
        result.skippedTags++;
        return;
      }
      try {
        // A HEAD only pays off for a tag already stored: a new one needs its manifest anyway.
        if (!req.force && stored.of(image, tag).length) {
          const head = await client.headManifest(image, tag, ctx);
          const same = stored.unchanged(image, tag, head.digest);
          if (same) {
            result.unchanged++;
            result.platformImages += same.length;
            for (const d of same) {
              seen.add(platformKey(d));
              unchangedSources.set(d.digest!, { image });
              if (d.scanStatus !== 'done') needSummary.add(d.digest!);
            }
            return;
          }
        }
        const resolved = await resolveTag(client, image, tag, deps.scan.platforms, ctx);
        if (!resolved.length) result.skippedTags++;
        result.platformImages += resolved.length;
        for (const r of resolved) seen.add(platformKey(r));
        batch.push(...resolved);
      } catch (err) {
        if (!isPerTagError(err)) throw err;
        result.skippedTags++;
        ctx.log.warn({ registry: key, image, tag, err: (err as Error).message }, 'tag skipped');
      }
    };
    for await (const listed of listImages(client, lister, req, ctx)) {
      for (let i = 0; i < listed.tags.length; i += BATCH) {
        await eachLimit(
          listed.tags.slice(i, i + BATCH),
          deps.scan.discoveryConcurrency,
          (tag) => resolveOne(listed.image, tag),
          ctx.signal,
        );
        ctx.signal?.throwIfAborted();
        if (batch.length + unchangedSources.size >= BATCH) await flush();
      }
    }
    await flush();
    // The vanish step is the one that hides tags: only a discovery that still holds its lease takes it.
    ctx.signal?.throwIfAborted();
    if (!req.tag) result.vanished = await markVanishedImages(stored.vanished(seen, req.image), started);
    result.digests = seenDigests.size;
    ctx.log.info({ ...result, ms: Date.now() - started.getTime() }, 'discovery finished');
    return result;
  }

  /** Runs a registry (or image) discovery under a lease this process just took; releases it with the outcome. */
  async function discoverHeld(
    held: HeldLease,
    key: string,
    req: { image?: string; tag?: string; force?: boolean },
    ctx: Ctx,
  ): Promise<DiscoveryResult> {
    const startedAt = new Date();
    const kept = keepLease(held, deps.scan.leaseMs, ctx.log);
    try {
      const result = await runDiscovery(key, req, { ...ctx, signal: kept.signal });
      await kept.stop();
      await releaseLease(held, { startedAt, finishedAt: new Date(), error: null, tags: result.tags });
      return result;
    } catch (err) {
      await kept.stop();
      // Recorded as the registry's last discovery (GET /api/scanner/jobs?repository=); a lost lease
      // records nothing (the release is a no-op: the lease is another discovery's now).
      await releaseLease(held, {
        startedAt,
        finishedAt: new Date(),
        error: (err as Error).message,
        tags: null,
      }).catch(() => undefined);
      throw err;
    }
  }

  async function discover(
    req: { repository: string; image?: string; tag?: string; force?: boolean },
    ctx: Ctx,
  ): Promise<DiscoveryResult | null> {
    const key = await registryKeyOf(req.repository);
    // One tag (scan on push) needs no registry-wide lease; a registry or image discovery does.
    if (req.image && req.tag) return runDiscovery(key, req, ctx);
    // Refused while held anywhere, this process included (leases are not re-entrant).
    const held = await acquireLease(`discover:${key}`, deps.instance, deps.scan.leaseMs);
    if (!held) return null;
    return discoverHeld(held, key, req, ctx);
  }

  /**
   * Starts a discovery in the background; true when started. A registry or image discovery takes the
   * registry's lease first, here, so `started` is false whenever another one holds it (another
   * instance, or another trigger of this process in the same tick).
   */
  async function startDiscovery(key: string, req: { image?: string; tag?: string; force?: boolean }, ctx: Ctx) {
    let run: () => Promise<unknown>;
    if (req.image && req.tag) {
      run = () => runDiscovery(key, req, ctx);
    } else {
      const held = await acquireLease(`discover:${key}`, deps.instance, deps.scan.leaseMs);
      if (!held) return false;
      run = () => discoverHeld(held, key, req, ctx);
    }
    const p = run()
      .catch((err: unknown) => ctx.log.error({ registry: key, err: (err as Error).message }, 'discovery failed'))
      .finally(() => background.delete(p));
    background.add(p);
    return true;
  }

  return {
    async listImages(body) {
      const filter: ImageFilter = { present: true };
      if (body.repository) filter.repository = await registryKeyOf(body.repository);
      if (body.search.length) {
        filter.$and = body.search.map((t) => {
          const re = literal(t);
          return { $or: [{ image: re }, { tag: re }, { namespace: re }] };
        });
      }
      const dir = body.sort.order === 'asc' ? 1 : -1;
      const [docs, count] = await Promise.all([
        ImageModel.find(filter)
          .sort({ [body.sort.field]: dir, _id: dir })
          .skip(body.pagination.from)
          .limit(body.pagination.size)
          .lean<ImageDoc[]>(),
        ImageModel.countDocuments(filter),
      ]);
      return { docs: docs.map(toImageView), count };
    },

    async getImage(q) {
      return toImageView(await findImage(q));
    },

    async listFindings(body) {
      const img = await findImage(body);
      if (!img.digest) return { docs: [], count: 0 };
      const filter: Record<string, unknown> = { digest: img.digest, fixedAt: null };
      if (body.search.length) {
        filter.$and = body.search.map((t) => {
          const re = literal(t);
          const or = [{ cveId: re }, { type: re }, { level: re }, { version: re }, { description: re }];
          return { $or: or };
        });
      }
      const dir = body.sort.order === 'asc' ? 1 : -1;
      const field = FINDING_SORT_FIELDS[body.sort.field];
      const [docs, count, sups] = await Promise.all([
        FindingModel.find(filter)
          .sort({ [field]: dir, _id: dir })
          .skip(body.pagination.from)
          .limit(body.pagination.size)
          .lean<FindingDoc[]>(),
        FindingModel.countDocuments(filter),
        loadActiveSuppressions(),
      ]);
      const suppressed = suppressedCves(sups, img);
      return { docs: docs.map((f) => toFindingView(f, img, suppressed)), count };
    },

    async requestScan(body, ctx) {
      const { registry, client } = await deps.registries.clientFor(await registryKeyOf(body.repository), ctx);
      // Fail now, with 5002, when the registry cannot be reached; the rest runs in the background.
      await client.ping(ctx);
      const started = await startDiscovery(registry.key, body, ctx);
      return { repository: registry.key, image: body.image, tag: body.tag, started };
    },

    async scanRegistry(repository, ctx) {
      const key = await registryKeyOf(repository);
      return { repository: key, started: await startDiscovery(key, {}, ctx) };
    },

    async scanAll(body, ctx) {
      const registries: Array<{ repository: string; started: boolean }> = [];
      for (const r of await deps.registries.list()) {
        registries.push({ repository: r.key, started: await startDiscovery(r.key, { force: body.force }, ctx) });
      }
      const started = registries.filter((r) => r.started).length;
      ctx.log.info({ registries: registries.length, started }, 'scan of every registry requested');
      return { all: true as const, started, registries };
    },

    discover,

    async progress(repository) {
      const key = repository ? await registryKeyOf(repository) : undefined;
      const match: Record<string, unknown> = { present: true, ...(key ? { repository: key } : {}) };
      const [byStatus, byJobState, recent, lease] = await Promise.all([
        ImageModel.aggregate<{ _id: string; n: number }>([
          { $match: match },
          { $group: { _id: '$scanStatus', n: { $sum: 1 } } },
        ]),
        ScanJobModel.aggregate<{ _id: string; n: number }>([
          { $match: key ? { repository: key } : {} },
          { $group: { _id: '$state', n: { $sum: 1 } } },
        ]),
        ScanJobModel.find({ state: 'done', durationMs: { $ne: null } }, { durationMs: 1 })
          .sort({ state: 1, finishedAt: -1 })
          .limit(20)
          .lean<Array<{ durationMs: number }>>(),
        key ? readLease(`discover:${key}`) : Promise.resolve(null),
      ]);
      const byState = { pending: 0, scanning: 0, done: 0, failed: 0 };
      for (const s of byStatus) if (s._id in byState) byState[s._id as keyof typeof byState] = s.n;
      const jobs = { queued: 0, running: 0, done: 0, failed: 0 };
      for (const s of byJobState) if (s._id in jobs) jobs[s._id as keyof typeof jobs] = s.n;
      const total = byState.pending + byState.scanning + byState.done + byState.failed;
      const finished = byState.done + byState.failed;
      const avg = recent.length ? recent.reduce((a, r) => a + r.durationMs, 0) / recent.length : null;
      const left = jobs.queued + jobs.running;
      const data = (lease?.data ?? {}) as {
        startedAt?: Date;
        finishedAt?: Date;
        error?: string | null;
        tags?: number | null;
      };
      return {
        repository: key ?? null,
        discovering: Boolean(lease?.owner && lease.until && new Date(lease.until).getTime() > Date.now()),
        lastDiscovery: lease
          ? {
              startedAt: iso(data.startedAt),
              finishedAt: iso(data.finishedAt),
              error: data.error ?? null,
              tags: data.tags ?? null,
            }
          : null,
        total,
        byState,
        jobs,
        percentDone: total ? Math.round((finished / total) * 1000) / 10 : 100,
        etaSeconds: left === 0 ? 0 : avg == null ? null : Math.ceil((left * avg) / deps.scan.concurrency / 1000),
      };
    },

    async idle() {
      while (background.size) await Promise.allSettled([...background]);
    },
  };
}

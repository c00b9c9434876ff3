import { createHash } from 'node:crypto';
import { Types } from 'mongoose';
import type { z } from 'zod';
import { NotFoundError, ParameterError } from '../../errors/app-error';
import { formatZodIssues } from '../../errors/to-app-error';
import type { Ctx } from '../../http/context';
import type { RegistriesService } from '../registries';
import type { ScannerService } from '../scanner';
import { InboxModel, ReceiptModel, type InboxDoc, type InboxOutcome } from './webhook-inbox.model';
import { DistributionEnvelope, HarborWebhook, type WebhookResult } from './webhooks.schemas';

export interface WebhooksDeps {
  registries: Pick<RegistriesService, 'resolve'>;
  scanner: Pick<ScannerService, 'discover'>;
}

export interface WebhooksService {
  /**
   * Stores the tag pushes of a distribution notification envelope or a Harbor webhook in the inbox
   * (once per event id) and returns at once; the inbox worker discovers them. Pulls, blob pushes and
   * tag-less pushes are counted and ignored. Throws ParameterError (5003) for a body that is neither,
   * NotFoundError (5004) for an unknown `?repository=`, DatabaseError (5005) when nothing could be stored.
   */
  receive(body: unknown, query: { repository?: string }, ctx: Ctx): Promise<WebhookResult>;
  /**
   * Discovers one stored push: resolves the registry, reads that tag and queues its digest. Returns
   * the outcome; throws RegistryError (5002) when the registry cannot be read (the worker retries).
   */
  process(
    event: InboxDoc,
    ctx: Ctx,
  ): Promise<{ outcome: InboxOutcome; registry: string | null; digests: number; queued: number }>;
}

/** Manifest media types: a push of one of these is a tag push; anything else pushed is a blob. */
const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

interface PushedTag {
  /** The event's id: distribution's `id`, or a hash of the Harbor resource (so a re-delivery matches). */
  id: string;
  image: string;
  tag: string;
  /** host[:port] values naming the registry, best first. */
  hosts: string[];
}

function hostOfUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).host || undefined;
  } catch {
    return undefined;
  }
}

/** Harbor's resource_url is `host[:port]/project/repo:tag` (or `@digest`), without a scheme. */
function hostOfResource(resourceUrl: string | undefined): string | undefined {
  if (!resourceUrl) return undefined;
  const host = resourceUrl.replace(/^[a-z]+:\/\//i, '').split('/')[0];
  return host || undefined;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new ParameterError(formatZodIssues(r.error.issues, 'body'));
  return r.data;
}

export function createWebhooksService(deps: WebhooksDeps): WebhooksService {
  /** The registry key of an event: the first host that names one; null when none does. */
  async function registryOf(hosts: string[]): Promise<string | null> {
    for (const h of hosts) {
      try {
        return (await deps.registries.resolve(h)).key;
      } catch (err) {
        // Unknown, or a bare host several registries share: try the next name.
        if (!(err instanceof NotFoundError || err instanceof ParameterError)) throw err;
      }
    }
    return null;
  }

  return {
    async receive(body, query, ctx) {
      const ignored = { notPush: 0, blob: 0, untagged: 0, duplicate: 0 };
      const pushes: PushedTag[] = [];
      let events: number;
      if (body && typeof body === 'object' && 'events' in body) {
        const envelope = parse(DistributionEnvelope, body);
        events = envelope.events.length;
        for (const e of envelope.events) {
          const t = e.target;
          if (e.action !== 'push') ignored.notPush++;
          else if (t?.mediaType && !MANIFEST_TYPES.has(t.mediaType)) ignored.blob++;
          else if (!t?.tag || !t.repository) ignored.untagged++;
          else {
            const hosts = [e.request?.host, hostOfUrl(t.url)].filter((h): h is string => Boolean(h));
            const id = e.id ? `dist:${e.id}` : `dist:${digestOf([t.repository, t.tag, t.digest ?? '', ...hosts])}`;
            pushes.push({ id, image: t.repository, tag: t.tag, hosts });
          }
        }
      } else if (body && typeof body === 'object' && 'type' in body) {
        const hook = parse(HarborWebhook, body);
        const resources = hook.event_data?.resources ?? [];
        events = resources.length;
        const repo = hook.event_data?.repository;
        const image =
          repo?.repo_full_name ?? (repo?.namespace && repo.name ? `${repo.namespace}/${repo.name}` : undefined);
        if (hook.type !== 'PUSH_ARTIFACT') ignored.notPush += Math.max(resources.length, 1);
        else if (!image) throw new ParameterError('body.event_data.repository.repo_full_name: is required');
        else
          for (const r of resources) {
            if (!r.tag) ignored.untagged++;
            else {
              const hosts = [hostOfResource(r.resource_url)].filter(Boolean) as string[];
              const id = `harbor:${digestOf([hook.type, String(hook.occur_at ?? ''), image, r.tag, r.digest ?? '', ...hosts])}`;
              pushes.push({ id, image, tag: r.tag, hosts });
            }
          }
      } else {
        throw new ParameterError(
          'body: must be a distribution notification envelope ({"events":[…]}) or a Harbor webhook ({"type":…,"event_data":…})',
        );
      }

      // An unknown ?repository= is the webhook's configuration error: say so now (5004), not in the background.
      const repository = query.repository ? (await deps.registries.resolve(query.repository)).key : null;
      const now = new Date();
      // One work item per tag (and registry hint) of this delivery; each event id is recorded once.
      const items = new Map<string, NewItem>();
      const seen = new Set<string>();
      for (const p of pushes) {
        // The same event sent to two webhook URLs naming different registries is two events.
        const id = repository ? `${p.id}@${repository}` : p.id;
        if (seen.has(id)) {
          ignored.duplicate++;
          continue;
        }
        seen.add(id);
        const target = [repository ?? p.hosts.join(','), p.image, p.tag].join('\u0000');
        const item = items.get(target);
        if (item) item.eventIds.push(id);
        else
          items.set(target, {
            _id: new Types.ObjectId(),
            repository,
            hosts: p.hosts,
            image: p.image,
            tag: p.tag,
            target,
            eventIds: [id],
            // Not claimable until its receipts are written (a crash in between: taken once stale).
            state: 'receiving',
            attempts: 0,
            notBefore: now,
            leaseOwner: null,
            leaseUntil: null,
            outcome: null,
            registry: null,
            digests: 0,
            queued: 0,
            lastError: null,
            claimSeq: 0,
            createdAt: now,
            updatedAt: now,
          });
      }
      const accepted = await storeItems([...items.values()], now);
      ignored.duplicate += seen.size - accepted;
      ctx.log.info({ events, accepted, items: items.size, ignored }, 'registry webhook stored');
      return { events, accepted, ignored };
    },

    async process(event, ctx) {
      const key = event.repository ?? (await registryOf(event.hosts));
      if (!key) {
        ctx.log.warn(
          { hosts: event.hosts, image: event.image, tag: event.tag },
          'push event from a host that names no registry; add the registry, an alias, or ?repository= to the webhook URL',
        );
        return { outcome: 'unknownRegistry', registry: null, digests: 0, queued: 0 };
      }
      try {
        const r = await deps.scanner.discover({ repository: key, image: event.image, tag: event.tag }, ctx);
        // Discovery skips a tag whose manifest is gone (or unsupported) instead of failing.
        if (r && r.skippedTags > 0 && r.digests === 0) return { outcome: 'gone', registry: key, digests: 0, queued: 0 };
        return { outcome: 'queued', registry: key, digests: r?.digests ?? 0, queued: r?.queued ?? 0 };
      } catch (err) {
        // Deleted again (or the registry removed) before we looked: nothing to scan.
        if (err instanceof NotFoundError) return { outcome: 'gone', registry: key, digests: 0, queued: 0 };
        throw err;
      }
    },
  };
}

function digestOf(parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/** A work item as inserted (every field, as the raw driver insert applies no schema defaults). */
type NewItem = Record<string, unknown> & { _id: Types.ObjectId; eventIds: string[] };

/**
 * Stores work items so that no event is lost and each event id counts once: the items first (not yet
 * claimable), then one receipt per event id (unordered inserts against the unique `_id`: a duplicate
 * skips only itself), then the items that got a new event become `pending` and the others go away.
 * Returns how many events were new.
 */
async function storeItems(items: NewItem[], now: Date): Promise<number> {
  if (items.length === 0) return 0;
  await InboxModel.collection.insertMany(items as never[], { ordered: false });
  const receipts = items.flatMap((it) => it.eventIds.map((id) => ({ _id: id, item: it._id, at: now })));
  const duplicates = new Set<number>();
  try {
    await ReceiptModel.collection.insertMany(receipts as never[], { ordered: false });
  } catch (err) {
    const e = err as {
      code?: number;
      writeErrors?: Array<{ code?: number; index: number }> | { code?: number; index: number };
    };
    const writeErrors = Array.isArray(e.writeErrors) ? e.writeErrors : e.writeErrors ? [e.writeErrors] : [];
    if (writeErrors.length === 0 || writeErrors.some((w) => w.code !== 11000)) {
      await InboxModel.deleteMany({ _id: { $in: items.map((it) => it._id) } });
      throw err;
    }
    for (const w of writeErrors) duplicates.add(w.index);
  }
  const fresh = new Set(receipts.filter((_, i) => !duplicates.has(i)).map((r) => String(r.item)));
  const live = items.filter((it) => fresh.has(String(it._id))).map((it) => it._id);
  const dead = items.filter((it) => !fresh.has(String(it._id))).map((it) => it._id);
  if (live.length) await InboxModel.updateMany({ _id: { $in: live } }, { $set: { state: 'pending' } });
  if (dead.length) await InboxModel.deleteMany({ _id: { $in: dead } });
  return receipts.length - duplicates.size;
}

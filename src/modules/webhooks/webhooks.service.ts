import type { z } from 'zod';
import { NotFoundError, ParameterError } from '../../errors/app-error';
import { formatZodIssues } from '../../errors/to-app-error';
import type { Ctx } from '../../http/context';
import type { RegistriesService } from '../registries';
import type { ScannerService } from '../scanner';
import { DistributionEnvelope, HarborWebhook, type WebhookResult } from './webhooks.schemas';

export interface WebhooksDeps {
  registries: Pick<RegistriesService, 'resolve'>;
  scanner: Pick<ScannerService, 'discover'>;
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
  image: string;
  tag: string;
  /** host[:port] values naming the registry, best first. */
  hosts: string[];
}

export interface WebhooksService {
  /**
   * Handles a distribution notification envelope or a Harbor webhook: each tag push is discovered
   * (that tag only) and its digest queued; pulls, blob pushes and tag-less pushes are counted and
   * ignored. Throws ParameterError (5003) for a body that is neither, NotFoundError (5004) for an
   * unknown `?repository=`, RegistryError (5002) when the registry cannot be read (the sender retries).
   */
  receive(body: unknown, query: { repository?: string }, ctx: Ctx): Promise<WebhookResult>;
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
  /** The registry key of an event: `?repository=` when given (unknown → 5004), else the first host that names one. */
  async function registryOf(hosts: string[], explicit: string | undefined): Promise<string | null> {
    if (explicit) return (await deps.registries.resolve(explicit)).key;
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
      const ignored = { notPush: 0, blob: 0, untagged: 0, unknownRegistry: 0, gone: 0, duplicate: 0 };
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
            pushes.push({ image: t.repository, tag: t.tag, hosts });
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
            else
              pushes.push({ image, tag: r.tag, hosts: [hostOfResource(r.resource_url)].filter(Boolean) as string[] });
          }
      } else {
        throw new ParameterError(
          'body: must be a distribution notification envelope ({"events":[…]}) or a Harbor webhook ({"type":…,"event_data":…})',
        );
      }

      const queued: WebhookResult['queued'] = [];
      const seen = new Set<string>();
      for (const p of pushes) {
        const key = await registryOf(p.hosts, query.repository);
        if (!key) {
          ignored.unknownRegistry++;
          ctx.log.warn(
            { hosts: p.hosts, image: p.image, tag: p.tag },
            'push event from a host that names no registry; add the registry, an alias, or ?repository= to the webhook URL',
          );
          continue;
        }
        const id = `${key}\u0000${p.image}\u0000${p.tag}`;
        if (seen.has(id)) {
          ignored.duplicate++;
          continue;
        }
        seen.add(id);
        try {
          const r = await deps.scanner.discover({ repository: key, image: p.image, tag: p.tag }, ctx);
          // Discovery skips a tag whose manifest is gone (or unsupported) instead of failing.
          if (r && r.skippedTags > 0 && r.digests === 0) {
            ignored.gone++;
            continue;
          }
          queued.push({
            repository: key,
            image: p.image,
            tag: p.tag,
            digests: r?.digests ?? 0,
            queued: r?.queued ?? 0,
          });
        } catch (err) {
          // Deleted again before we looked: nothing to scan.
          if (!(err instanceof NotFoundError)) throw err;
          ignored.gone++;
        }
      }
      ctx.log.info({ events, queued: queued.length, ignored }, 'registry webhook handled');
      return { events, queued, ignored };
    },
  };
}

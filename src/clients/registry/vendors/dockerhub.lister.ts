import { z } from 'zod';
import { RegistryError } from '../../../errors/app-error';
import type { Outbound } from '../../http/outbound';
import type { Ctx } from '../../../http/context';
import type { DockerhubOptions, ImageLister, ListedImage } from './lister.types';
import { createVendorHttp, query, type Politeness } from './vendor-http';

const Page = <T extends z.ZodType>(item: T) => z.object({ next: z.string().nullish(), results: z.array(item) });
const RepoPage = Page(z.object({ name: z.string() }));
const TagPage = Page(z.object({ name: z.string() }));

export function hubErrorText(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  const m = b.message ?? b.detail ?? b.errinfo;
  return typeof m === 'string' ? m : undefined;
}

/**
 * Docker Hub has no catalog: repositories of each configured namespace and their tags come from Hub's
 * API, anonymously (public repositories only); pulls and token auth stay with the v2 client.
 */
export function createDockerhubLister(
  options: DockerhubOptions,
  timeoutMs: number,
  politeness: Politeness,
  outbound?: Outbound,
): ImageLister {
  const pageSize = options.pageSize ?? 100;
  const base = (options.apiUrl ?? 'https://hub.docker.com').replace(/\/+$/, '');
  const http = createVendorHttp({
    vendor: 'Docker Hub',
    baseURL: base,
    timeoutMs,
    outbound,
    politeness,
    errorText: hubErrorText,
  });

  async function* follow<T>(
    ctx: Ctx,
    first: string,
    schema: z.ZodType<{ next?: string | null; results: T[] }>,
    what: string,
  ) {
    let url = first;
    const seen = new Set<string>();
    for (;;) {
      seen.add(url);
      const reply: { data: { next?: string | null; results: T[] } } = await http.get(ctx, url, schema, what);
      yield* reply.data.results;
      if (!reply.data.next) return;
      const next: URL = new URL(reply.data.next, base);
      // Never follow `next` to another host: the request would leave the configured API.
      if (next.origin !== new URL(base).origin)
        throw new RegistryError(`Docker Hub sent a next page on another host (${next.origin})`);
      url = next.pathname + next.search;
      if (seen.has(url)) throw new RegistryError(`Docker Hub sent the same next page twice (${url})`);
    }
  }

  return {
    async *listImages(ctx: Ctx): AsyncIterable<ListedImage> {
      for (const ns of options.namespaces) {
        const nsPath = `/v2/namespaces/${encodeURIComponent(ns)}/repositories`;
        for await (const repo of follow(
          ctx,
          `${nsPath}?${query({ page_size: pageSize })}`,
          RepoPage,
          'a repository page',
        )) {
          const tagsUrl = `${nsPath}/${encodeURIComponent(repo.name)}/tags?${query({ page_size: pageSize })}`;
          const tags: string[] = [];
          for await (const t of follow(ctx, tagsUrl, TagPage, 'a tag page')) tags.push(t.name);
          yield { image: `${ns}/${repo.name}`, tags };
        }
      }
    },
  };
}

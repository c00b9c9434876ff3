import { z } from 'zod';
import type { Outbound } from '../../http/outbound';
import type { Ctx } from '../../../http/context';
import type { RegistryTarget } from '../registry.types';
import type { HarborOptions, ImageLister, ListedImage } from './lister.types';
import { basicAuthOf, createVendorHttp, originOf, query, type Politeness } from './vendor-http';

const Projects = z.array(z.object({ name: z.string() }));
const Repositories = z.array(z.object({ name: z.string() }));
const Artifacts = z.array(
  z.object({ type: z.string().nullish(), tags: z.array(z.object({ name: z.string() })).nullish() }),
);
const HarborErrors = z.object({
  errors: z.array(z.object({ code: z.string().optional(), message: z.string() })).min(1),
});

export function harborErrorText(body: unknown): string | undefined {
  const p = HarborErrors.safeParse(body);
  return p.success ? p.data.errors.map((e) => (e.code ? `${e.code} ${e.message}` : e.message)).join('; ') : undefined;
}

/** `a/b` → `a%252Fb`: Harbor wants repository names encoded twice in the path (swagger.yaml). */
export function encodeHarborRepository(name: string): string {
  return encodeURIComponent(encodeURIComponent(name));
}

function hasNext(link: string | undefined): boolean {
  return !!link && /rel="?next"?/.test(link);
}

/**
 * Harbor v2.0: projects → repositories → artifacts (with_tag=true). Untagged artifacts and artifacts
 * whose type is not IMAGE are skipped, and a repository without any tag is not listed: the scan
 * pipeline works by tag.
 */
export function createHarborLister(
  options: HarborOptions,
  target: RegistryTarget,
  timeoutMs: number,
  politeness: Politeness,
  outbound?: Outbound,
): ImageLister {
  const pageSize = options.pageSize ?? 100;
  const http = createVendorHttp({
    vendor: 'Harbor',
    baseURL: `${(options.apiUrl ?? originOf(target)).replace(/\/+$/, '')}/api/v2.0`,
    timeoutMs,
    outbound,
    skipTlsVerify: target.skipTlsVerify,
    auth: basicAuthOf(target),
    politeness,
    errorText: harborErrorText,
  });

  async function* pages<T>(
    ctx: Ctx,
    path: string,
    extra: Record<string, string>,
    schema: z.ZodType<T[]>,
    what: string,
  ) {
    for (let page = 1; ; page++) {
      const { data, headers } = await http.get(
        ctx,
        `${path}?${query({ ...extra, page, page_size: pageSize })}`,
        schema,
        what,
      );
      yield* data;
      if (data.length < pageSize || !hasNext(headers.link)) return;
    }
  }

  async function* projects(ctx: Ctx): AsyncIterable<string> {
    if (options.projects) {
      yield* options.projects;
      return;
    }
    for await (const p of pages(ctx, '/projects', {}, Projects, 'a project list')) yield p.name;
  }

  return {
    async *listImages(ctx: Ctx): AsyncIterable<ListedImage> {
      for await (const project of projects(ctx)) {
        const projectPath = `/projects/${encodeURIComponent(project)}`;
        const repos = pages(ctx, `${projectPath}/repositories`, {}, Repositories, 'a repository list');
        for await (const repo of repos) {
          // Harbor names repositories with the project prefix; the artifacts path wants it without.
          const short = repo.name.startsWith(`${project}/`) ? repo.name.slice(project.length + 1) : repo.name;
          const path = `${projectPath}/repositories/${encodeHarborRepository(short)}/artifacts`;
          const tags: string[] = [];
          for await (const a of pages(ctx, path, { with_tag: 'true' }, Artifacts, 'an artifact list')) {
            // Charts, CNAB bundles, signatures and other artifacts are not container images.
            if (a.type && a.type.toUpperCase() !== 'IMAGE') continue;
            for (const t of a.tags ?? []) tags.push(t.name);
          }
          if (tags.length > 0) yield { image: `${project}/${short}`, tags };
        }
      }
    },
  };
}

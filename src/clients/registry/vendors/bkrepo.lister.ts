import { z } from 'zod';
import { RegistryError } from '../../../errors/app-error';
import type { Outbound } from '../../http/outbound';
import type { Ctx } from '../../../http/context';
import type { RegistryTarget } from '../registry.types';
import type { BkrepoOptions, ImageLister, ListedImage } from './lister.types';
import { basicAuthOf, createVendorHttp, originOf, query, type Politeness } from './vendor-http';

const DOCKER_PREFIX = 'docker://';

function envelope<T extends z.ZodType>(record: T) {
  // `data` is null when `code` is not 0, so it is checked only after the code.
  return z.object({
    code: z.number(),
    message: z.string().nullish(),
    data: z.object({ totalPages: z.number().int().nonnegative(), records: z.array(record) }).nullish(),
  });
}
const PackagePage = envelope(z.object({ key: z.string(), type: z.string() }));
const VersionPage = envelope(z.object({ name: z.string() }));

/** bk-repo answers `{code, message, data, traceId}`; a non-zero code carries the reason in `message`. */
export function bkrepoErrorText(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b.message !== 'string' || !b.message) return undefined;
  return b.code !== undefined ? `${b.message} (code ${String(b.code)})` : b.message;
}

/**
 * bk-repo: DOCKER packages of one repository (package page API, keys `docker://name`), tags from the version
 * page API. Pages are numbered from 1: bk-repo treats pageNumber 0 as the first page too, so 1 is right for
 * either reading of the document. Image on the docker host = `{projectId}/{repoName}/{name}` (inferred).
 */
export function createBkrepoLister(
  options: BkrepoOptions,
  target: RegistryTarget,
  timeoutMs: number,
  politeness: Politeness,
  outbound?: Outbound,
): ImageLister {
  const pageSize = options.pageSize ?? 100;
  const http = createVendorHttp({
    vendor: 'bk-repo',
    baseURL: (options.apiUrl ?? originOf(target)).replace(/\/+$/, ''),
    timeoutMs,
    outbound,
    skipTlsVerify: target.skipTlsVerify,
    auth: basicAuthOf(target),
    politeness,
    errorText: bkrepoErrorText,
  });
  const repoPath = `${encodeURIComponent(options.projectId)}/${encodeURIComponent(options.repoName)}`;

  async function* pages<T>(
    ctx: Ctx,
    path: string,
    params: Record<string, string>,
    schema: z.ZodType<{ code: number; message?: string | null; data?: { totalPages: number; records: T[] } | null }>,
    what: string,
  ): AsyncIterable<T> {
    for (let pageNumber = 1; ; pageNumber++) {
      const url = `${path}?${query({ ...params, pageNumber, pageSize })}`;
      const { data: reply } = await http.get(ctx, url, schema, what);
      if (reply.code !== 0)
        throw new RegistryError(`bk-repo answered code ${reply.code} to GET ${url}: ${reply.message ?? 'no message'}`);
      if (!reply.data) throw new RegistryError(`bk-repo answered a reply that is not ${what}: data: missing`);
      yield* reply.data.records;
      if (pageNumber >= reply.data.totalPages || reply.data.records.length === 0) return;
    }
  }

  return {
    async *listImages(ctx: Ctx): AsyncIterable<ListedImage> {
      const packages = pages(ctx, `/repository/api/package/page/${repoPath}`, {}, PackagePage, 'a package page');
      for await (const pkg of packages) {
        if (pkg.type !== 'DOCKER' || !pkg.key.startsWith(DOCKER_PREFIX)) continue;
        const name = pkg.key.slice(DOCKER_PREFIX.length);
        const tags: string[] = [];
        const versions = pages(
          ctx,
          `/repository/api/version/page/${repoPath}`,
          { packageKey: pkg.key },
          VersionPage,
          'a version page',
        );
        for await (const v of versions) tags.push(v.name);
        yield { image: `${options.projectId}/${options.repoName}/${name}`, tags };
      }
    },
  };
}

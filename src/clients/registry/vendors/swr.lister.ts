import { z } from 'zod';
import { ParameterError } from '../../../errors/app-error';
import type { Outbound } from '../../http/outbound';
import type { Ctx } from '../../../http/context';
import type { RegistryTarget } from '../registry.types';
import type { ImageLister, ListedImage, SwrOptions } from './lister.types';
import { createVendorHttp, query, type Politeness } from './vendor-http';

const Repos = z.array(z.object({ name: z.string(), namespace: z.string(), tags: z.array(z.string()).nullish() }));

/** Huawei errors come as {error_code, error_msg} (IAM, APIG) or {errorCode, errorMessage} (SWR). */
export function swrErrorText(body: unknown): string | undefined {
  if (typeof body === 'string') return body || undefined;
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  const msg = b.error_msg ?? b.errorMessage ?? b.message;
  const code = b.error_code ?? b.errorCode ?? b.code;
  if (typeof msg !== 'string') return undefined;
  return typeof code === 'string' ? `${code} ${msg}` : msg;
}

/** `Content-Range: offset-count/total` (swr_02_0034). */
export function parseContentRange(
  header: string | undefined,
): { offset: number; count: number; total: number } | undefined {
  const m = /^\s*(\d+)-(\d+)\/(\d+)\s*$/.exec(header ?? '');
  return m ? { offset: Number(m[1]), count: Number(m[2]), total: Number(m[3]) } : undefined;
}

/** Builds the seed's filter: `center::self|namespace::…|name::…|category::…|offset::…|limit::…`. */
export function swrFilter(options: SwrOptions, offset: number, limit: number): string {
  const parts = ['center::self', `namespace::${options.namespace}`];
  if (options.name) parts.push(`name::${options.name}`);
  if (options.category) parts.push(`category::${options.category}`);
  parts.push(`offset::${offset}`, `limit::${limit}`);
  return parts.join('|');
}

/**
 * Huawei SWR: GET {apiUrl}/v2/manage/repos with the filter string, paged by offset/limit (offset always a
 * multiple of limit) until Content-Range's total. SWR matches namespace and name fuzzily, so repositories of
 * other namespaces are dropped here. Image = `{namespace}/{name}`.
 */
export function createSwrLister(
  options: SwrOptions,
  target: RegistryTarget,
  timeoutMs: number,
  politeness: Politeness,
  outbound?: Outbound,
): ImageLister {
  const token = options.token ?? target.credentials?.password;
  if (!token) throw new ParameterError('options.token: required for kind swr when the registry has no credentials');
  const limit = options.pageSize ?? 100;
  const http = createVendorHttp({
    vendor: 'Huawei SWR',
    baseURL: options.apiUrl.replace(/\/+$/, ''),
    timeoutMs,
    outbound,
    skipTlsVerify: target.skipTlsVerify,
    headers: { 'X-Auth-Token': token },
    politeness,
    errorText: swrErrorText,
  });

  return {
    async *listImages(ctx: Ctx): AsyncIterable<ListedImage> {
      for (let offset = 0; ; offset += limit) {
        const url = `/v2/manage/repos?${query({ filter: swrFilter(options, offset, limit) })}`;
        const { data, headers } = await http.get(ctx, url, Repos, 'a repository list');
        for (const r of data) {
          if (r.namespace !== options.namespace) continue;
          yield { image: `${r.namespace}/${r.name}`, tags: r.tags ?? [] };
        }
        const range = parseContentRange(headers['content-range']);
        // Without Content-Range, a short page is the only end marker left.
        const done = range ? offset + limit >= range.total : data.length < limit;
        if (done || data.length === 0) return;
      }
    },
  };
}

import { z } from 'zod';
import { ParameterError } from '../../../errors/app-error';
import type { Ctx } from '../../../http/context';

/** One image found by a vendor's listing API: `image` is the name to pull through the registry's /v2/ API. */
export interface ListedImage {
  image: string;
  tags: string[];
}

/** Lists the images and tags of a registry that has no usable `_catalog`. Throws RegistryError (5002). */
export interface ImageLister {
  listImages(ctx: Ctx): AsyncIterable<ListedImage>;
}

export const RegistryKind = z.enum(['registry', 'harbor', 'swr', 'bkrepo', 'dockerhub']);
export type RegistryKind = z.infer<typeof RegistryKind>;

const ApiUrl = z.url({ protocol: /^https?$/ }).max(2048);
const Name = z.string().trim().min(1).max(255);
/** Options every lister understands: page size of list calls and a cap on requests per second. */
const Common = {
  pageSize: z.number().int().min(1).max(100).optional(),
  maxRequestsPerSecond: z.number().positive().max(1000).optional(),
};

export const RegistryOptions = z.strictObject({});
export type RegistryOptions = z.infer<typeof RegistryOptions>;

export const HarborOptions = z.strictObject({
  apiUrl: ApiUrl.optional(),
  projects: z.array(Name).min(1).max(1000).optional(),
  ...Common,
});
export type HarborOptions = z.infer<typeof HarborOptions>;

export const SwrOptions = z.strictObject({
  apiUrl: ApiUrl,
  namespace: Name,
  name: Name.optional(),
  category: z.enum(['app_server', 'linux', 'framework_app', 'database', 'lang', 'other', 'windows', 'arm']).optional(),
  token: z.string().min(1).max(16384).optional(),
  ...Common,
});
export type SwrOptions = z.infer<typeof SwrOptions>;

export const BkrepoOptions = z.strictObject({
  projectId: Name,
  repoName: Name,
  apiUrl: ApiUrl.optional(),
  ...Common,
});
export type BkrepoOptions = z.infer<typeof BkrepoOptions>;

export const DockerhubOptions = z.strictObject({
  namespaces: z.array(Name).min(1).max(100),
  apiUrl: ApiUrl.optional(),
  ...Common,
});
export type DockerhubOptions = z.infer<typeof DockerhubOptions>;

export const KindOptionsSchemas = {
  registry: RegistryOptions,
  harbor: HarborOptions,
  swr: SwrOptions,
  bkrepo: BkrepoOptions,
  dockerhub: DockerhubOptions,
} as const;

export interface KindOptionsMap {
  registry: RegistryOptions;
  harbor: HarborOptions;
  swr: SwrOptions;
  bkrepo: BkrepoOptions;
  dockerhub: DockerhubOptions;
}
export type KindOptions = KindOptionsMap[RegistryKind];

/**
 * Validates the `options` of a registry of `kind` (at create and at update). A missing `options`
 * counts as `{}`. Throws ParameterError (5003) naming the field, e.g.
 * `options.projectId: required for kind bkrepo`.
 */
export function validateKindOptions<K extends RegistryKind>(kind: K, options: unknown): KindOptionsMap[K] {
  const schema = KindOptionsSchemas[kind] as unknown as z.ZodType<KindOptionsMap[K]>;
  if (!schema) throw new ParameterError(`kind: must be one of ${RegistryKind.options.join(', ')}`);
  const result = schema.safeParse(options ?? {}, {
    error: (issue) =>
      issue.code === 'invalid_type' && issue.input === undefined ? `required for kind ${kind}` : undefined,
  });
  if (result.success) return result.data;
  const message = result.error.issues
    .map((i) => {
      const path = ['options', ...i.path.map(String)].join('.');
      return `${path}: ${i.message}`;
    })
    .join('; ');
  throw new ParameterError(message, { cause: result.error });
}

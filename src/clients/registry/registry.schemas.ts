import { z } from 'zod';

/** Replies of the Docker Registry HTTP API v2 and its token server: only the fields the client uses. */

export const TokenReply = z
  .object({
    token: z.string().min(1).optional(),
    access_token: z.string().min(1).optional(),
    expires_in: z.number().int().positive().optional(),
  })
  .refine((t) => t.token || t.access_token, 'has neither token nor access_token');
export type TokenReply = z.infer<typeof TokenReply>;

export const CatalogReply = z.object({ repositories: z.array(z.string()).nullish() });
export type CatalogReply = z.infer<typeof CatalogReply>;

export const TagsReply = z.object({ tags: z.array(z.string()).nullish() });
export type TagsReply = z.infer<typeof TagsReply>;

const Platform = z.object({
  os: z.string(),
  architecture: z.string(),
  variant: z.string().optional(),
  'os.version': z.string().optional(),
});

export const Descriptor = z.object({
  mediaType: z.string(),
  digest: z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/, 'is not a digest'),
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  platform: Platform.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const ImageManifestBody = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: Descriptor,
  layers: z.array(Descriptor),
});

export const ImageIndexBody = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(Descriptor),
});

export const ImageConfigBody = z.object({
  os: z.string(),
  architecture: z.string(),
  variant: z.string().optional(),
  created: z.string().optional(),
});

import { z } from 'zod';
import { LEVELS } from '../../domain/severity';
import { IMAGE_SORT_FIELDS } from '../images';
import { FINDING_SORT_FIELDS } from './finding.model';

export const Str = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`);

/** Registry key (`host:port`), alias or unambiguous bare host. */
export const Repository = Str(300);
export const ImageName = Str(255).regex(
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/,
  {
    message: 'must be a repository name like "library/debian" (lowercase letters, digits, ".", "_", "-", "/")',
  },
);
export const Tag = Str(128).regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/, {
  message: 'must be a tag: letters, digits, "_", "." and "-", not starting with "." or "-"',
});

export const Pagination = z.strictObject({
  from: z
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(0, 'must be 0 or more')
    .max(10_000_000, 'must be at most 10000000')
    .default(0),
  size: z
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be between 1 and 500')
    .max(500, 'must be between 1 and 500')
    .default(10),
});

/** `asc` or `desc`; the seed's `dasc` means `desc`; case-insensitive. */
export const Order = z
  .string({ error: 'must be "asc" or "desc"' })
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(['asc', 'desc', 'dasc'], { error: 'must be "asc" or "desc"' }))
  .transform((v): 'asc' | 'desc' => (v === 'asc' ? 'asc' : 'desc'));

export const Search = z
  .array(z.string({ error: 'must be a string' }).max(200, 'must be at most 200 characters'), {
    error: 'must be an array of strings',
  })
  .max(10, 'must hold at most 10 terms')
  .default([])
  .transform((terms) => terms.map((t) => t.trim()).filter(Boolean));

export const ListImagesBody = z
  .strictObject({
    repository: Repository.optional(),
    pagination: Pagination.default({ from: 0, size: 10 }),
    sort: z
      .strictObject({
        field: z
          .enum(IMAGE_SORT_FIELDS, { error: `must be one of ${IMAGE_SORT_FIELDS.join(', ')}` })
          .default('created_at'),
        order: Order.default('asc'),
      })
      .default({ field: 'created_at', order: 'asc' }),
    search: Search,
  })
  .meta({ id: 'ListImagesBody' });
export type ListImagesBody = z.infer<typeof ListImagesBody>;

const FINDING_FIELDS = Object.keys(FINDING_SORT_FIELDS) as [
  keyof typeof FINDING_SORT_FIELDS,
  ...Array<keyof typeof FINDING_SORT_FIELDS>,
];

export const ListFindingsBody = z
  .strictObject({
    repository: Repository,
    image: ImageName,
    tag: Tag,
    platform: Str(64).optional(),
    pagination: Pagination.default({ from: 0, size: 10 }),
    sort: z
      .strictObject({
        field: z.enum(FINDING_FIELDS, { error: `must be one of ${FINDING_FIELDS.join(', ')}` }).default('created_at'),
        order: Order.default('asc'),
      })
      .default({ field: 'created_at', order: 'asc' }),
    search: Search,
  })
  .meta({ id: 'ListFindingsBody' });
export type ListFindingsBody = z.infer<typeof ListFindingsBody>;

export const GetImageQuery = z.strictObject({
  repository: Repository,
  image: ImageName,
  tag: Tag,
  platform: Str(64).optional(),
});
export type GetImageQuery = z.infer<typeof GetImageQuery>;

/** `repository` omitted: scan all (every registry), as Harbor's "Scan now" on the Vulnerability page. */
export const ScanRequestBody = z
  .strictObject({
    repository: Repository.optional(),
    image: ImageName.optional(),
    tag: Tag.optional(),
    /** Re-scan digests already scanned (default: only new, changed or failed ones). */
    force: z.boolean({ error: 'must be true or false' }).default(false),
  })
  .refine((b) => !b.tag || b.image, { message: 'tag needs image', path: ['tag'] })
  .refine((b) => !b.image || b.repository, { message: 'image needs repository', path: ['image'] })
  .meta({ id: 'ScanRequestBody' });
export type ScanRequestBody = z.infer<typeof ScanRequestBody>;

export const JobsQuery = z.strictObject({ repository: Repository.optional() });
export type JobsQuery = z.infer<typeof JobsQuery>;

const counts = Object.fromEntries(LEVELS.map((l) => [l, z.number().int()])) as Record<
  (typeof LEVELS)[number],
  z.ZodNumber
>;

export const ImageView = z
  .object({
    repository: z.string(),
    image: z.string(),
    tag: z.string(),
    name: z.string().meta({ example: '192.168.10.118:5000/ubuntu:16.04' }),
    platform: z.string(),
    digest: z.string().nullable(),
    namespace: z.string().nullable().meta({ example: 'debian:12' }),
    ...counts,
    packages: z.number().int(),
    score: z.number().nullable(),
    scanStatus: z.enum(['pending', 'scanning', 'done', 'failed']),
    scanError: z.string().optional(),
    present: z.boolean(),
    created_at: z.string().nullable(),
    updated_at: z.string().nullable(),
  })
  .meta({ id: 'Image' });
export type ImageView = z.infer<typeof ImageView>;

export const FindingView = z
  .object({
    description: z.string(),
    link: z.string(),
    level: z.enum(['Critical', 'High', 'Medium', 'Low', 'Negligible', 'Unknown']),
    type: z.string().meta({ description: 'package name' }),
    versionFormat: z.string(),
    version: z.string(),
    fixedBy: z.string(),
    repository: z.string(),
    image: z.string(),
    tag: z.string(),
    cveId: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    suppressed: z.boolean().meta({
      description:
        'true when a suppression in force covers this CVE for this image: listed, but left out of counts and score',
    }),
  })
  .meta({ id: 'Finding' });
export type FindingView = z.infer<typeof FindingView>;

export const Page = <T extends z.ZodType>(doc: T) => z.object({ docs: z.array(doc), count: z.number().int() });

export const ScanRequestResult = z
  .object({
    repository: z.string(),
    image: z.string().optional(),
    tag: z.string().optional(),
    started: z.boolean().meta({ description: 'false when a discovery of this registry is already running' }),
  })
  .meta({ id: 'ScanRequestResult' });

export const ScanAllResult = z
  .object({
    all: z.literal(true),
    started: z.number().int().meta({ description: 'registries whose discovery started now' }),
    registries: z.array(
      z.object({
        repository: z.string(),
        started: z.boolean().meta({ description: 'false when its discovery was already running' }),
      }),
    ),
  })
  .meta({ id: 'ScanAllResult' });

export const JobsProgress = z
  .object({
    repository: z.string().nullable(),
    discovering: z.boolean(),
    lastDiscovery: z
      .object({
        startedAt: z.string().nullable(),
        finishedAt: z.string().nullable(),
        error: z.string().nullable(),
        tags: z.number().int().nullable(),
      })
      .nullable(),
    total: z.number().int().meta({ description: 'images (tag × platform) present in the registry' }),
    byState: z.object({ pending: z.number(), scanning: z.number(), done: z.number(), failed: z.number() }),
    jobs: z.object({ queued: z.number(), running: z.number(), done: z.number(), failed: z.number() }),
    percentDone: z.number(),
    etaSeconds: z.number().nullable(),
  })
  .meta({ id: 'JobsProgress' });
export type JobsProgress = z.infer<typeof JobsProgress>;

import { z } from 'zod';
import { QueryInt as SharedQueryInt } from '../../http/schemas';
import { LEVELS } from '../../domain/severity';
import { ImageName, Order, Pagination, Repository, Search, Str, Tag } from '../scanner/scanner.schemas';
import { CVE_SORT_FIELDS } from './cve-summary.model';

const CVE_FIELDS = Object.keys(CVE_SORT_FIELDS) as [
  keyof typeof CVE_SORT_FIELDS,
  ...Array<keyof typeof CVE_SORT_FIELDS>,
];

export const ListCvesBody = z
  .strictObject({
    repository: Repository.optional(),
    pagination: Pagination.default({ from: 0, size: 10 }),
    sort: z
      .strictObject({
        field: z.enum(CVE_FIELDS, { error: `must be one of ${CVE_FIELDS.join(', ')}` }).default('level'),
        order: Order.default('desc'),
      })
      .default({ field: 'level', order: 'desc' }),
    search: Search,
  })
  .meta({ id: 'ListCvesBody' });
export type ListCvesBody = z.infer<typeof ListCvesBody>;

/**
 * A vulnerability id as scanners name them: CVE-2024-1234, GHSA-xxxx-xxxx-xxxx, DSA-5000-1,
 * RHSA-2024:1234, ... Letters, digits, ".", "_", ":" and "-"; CVE ids are upper-cased.
 */
export const CveId = Str(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, {
    message: 'must be a vulnerability id like CVE-2024-1234 (letters, digits, ".", "_", ":", "-")',
  })
  .transform((v) => (/^cve-\d{4}-\d+$/i.test(v) ? v.toUpperCase() : v));

export const CveImagesParams = z.strictObject({ cveId: CveId });
export type CveImagesParams = z.infer<typeof CveImagesParams>;

const QueryInt = (name: string, min: number, max: number, def: number) => SharedQueryInt(min, max, def, name);

export const CveImagesQuery = z.strictObject({
  repository: Repository.optional(),
  from: QueryInt('rows to skip', 0, 1_000_000, 0),
  size: QueryInt('rows per page', 1, 500, 20),
});
export type CveImagesQuery = z.infer<typeof CveImagesQuery>;

export const HistoryQuery = z.strictObject({
  repository: Repository,
  image: ImageName,
  tag: Tag,
  platform: Str(64).optional(),
  from: QueryInt('points to skip', 0, 1_000_000, 0),
  limit: QueryInt('points per page', 1, 1000, 100),
  order: Order.default('desc').meta({ description: 'time order: desc (newest first, default) or asc' }),
});
export type HistoryQuery = z.infer<typeof HistoryQuery>;

const Format = z.enum(['csv', 'json'], { error: 'must be "csv" or "json"' }).default('csv');

export const ImageExportQuery = z.strictObject({
  repository: Repository,
  image: ImageName,
  tag: Tag,
  platform: Str(64).optional(),
  format: Format,
});
export type ImageExportQuery = z.infer<typeof ImageExportQuery>;

export const RegistryExportQuery = z.strictObject({ repository: Repository, format: Format });
export type RegistryExportQuery = z.infer<typeof RegistryExportQuery>;

const LevelName = z.enum(['Critical', 'High', 'Medium', 'Low', 'Negligible', 'Unknown']);

export const CveView = z
  .object({
    cveId: z.string().meta({ example: 'CVE-2024-3094' }),
    repository: z.string().nullable().meta({ description: 'the registry filter, null for all registries' }),
    level: LevelName.meta({ description: 'highest level of its open findings' }),
    images: z.number().int().meta({ description: 'distinct registry + image with an affected present tag' }),
    tags: z.number().int().meta({ description: 'affected present image documents (tag × platform)' }),
    digests: z.number().int(),
    fixable: z.boolean().meta({ description: 'some open finding has a fixed version' }),
    description: z.string(),
    link: z.string(),
    packages: z.array(z.string()).meta({ description: 'affected package names (at most 50)' }),
    updated_at: z.string().meta({ description: 'when this summary was computed' }),
  })
  .meta({ id: 'Cve' });
export type CveView = z.infer<typeof CveView>;

export const CveImageView = z
  .object({
    repository: z.string(),
    image: z.string(),
    tag: z.string(),
    platform: z.string(),
    digest: z.string(),
    level: LevelName,
    packages: z.array(z.object({ package: z.string(), version: z.string(), fixedBy: z.string(), level: LevelName })),
  })
  .meta({ id: 'CveImage' });
export type CveImageView = z.infer<typeof CveImageView>;

const counts = Object.fromEntries(LEVELS.map((l) => [l, z.number().int()])) as Record<
  (typeof LEVELS)[number],
  z.ZodNumber
>;

export const HistoryPoint = z
  .object({
    repository: z.string(),
    image: z.string(),
    tag: z.string(),
    platform: z.string(),
    at: z.string(),
    digest: z.string(),
    ...counts,
    packages: z.number().int(),
    score: z.number().nullable(),
  })
  .meta({ id: 'HistoryPoint' });
export type HistoryPoint = z.infer<typeof HistoryPoint>;

/** Columns of the CSV export, in order (the JSON export uses them as keys, plus `platform`). */
export const EXPORT_COLUMNS = [
  'registry',
  'image',
  'tag',
  'digest',
  'cveId',
  'package',
  'version',
  'fixedBy',
  'level',
  'link',
  'description',
  'firstSeen',
] as const;
export type ExportRow = Record<(typeof EXPORT_COLUMNS)[number], string> & { platform: string };

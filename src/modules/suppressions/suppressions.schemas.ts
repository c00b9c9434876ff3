import { z } from 'zod';
import { ObjectIdString, QueryInt, QuerySize } from '../../http/schemas';
import { SUPPRESSION_SCOPES } from './suppression.model';

/**
 * Vulnerability ids a suppression may name: CVE ids, plus the advisory ids Clair reports when a
 * vulnerability has no CVE. Exactly these patterns, nothing else (README documents them):
 * CVE-YYYY-NNNN… (4+ digits; "cve-" is upper-cased), GitHub GHSA-xxxx-xxxx-xxxx (its base-32
 * alphabet, lower case), Debian DSA-/DLA-NNNN-N, Ubuntu USN-NNNN-N, Red Hat RH[SBE]A-YYYY:NNNN,
 * Amazon ALAS[2|2022|2023]-YYYY-NNN, and the OSV families GO-, PYSEC-, RUSTSEC-, OSV-YYYY-NNNN.
 */
export const ADVISORY_PATTERNS: readonly RegExp[] = [
  /^CVE-\d{4}-\d{4,}$/,
  /^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$/,
  /^D[SL]A-\d{3,5}-\d{1,3}$/,
  /^USN-\d{3,5}-\d{1,3}$/,
  /^RH[SBE]A-\d{4}:\d{4,}$/,
  /^ALAS(2|2022|2023)?-\d{4}-\d{3,}$/,
  /^(GO|PYSEC|RUSTSEC|OSV)-\d{4}-\d{1,7}$/,
];

export const CveId = z
  .string({ error: 'must be a string' })
  .trim()
  .max(64, 'must be at most 64 characters')
  .transform((v) => (/^cve-/i.test(v) ? v.toUpperCase() : v))
  .refine((v) => ADVISORY_PATTERNS.some((re) => re.test(v)), {
    message:
      'must be a CVE id (CVE-2023-12345) or an advisory id (GHSA-xxxx-xxxx-xxxx, DSA-/DLA-NNNN-N, USN-NNNN-N, RHSA-YYYY:NNNN, ALAS-YYYY-NNN, GO-/PYSEC-/RUSTSEC-/OSV-YYYY-NNNN)',
  })
  .meta({ example: 'CVE-2023-4911' });

const Text = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`);

const ImageName = Text(255).regex(
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/,
  { message: 'must be a repository name like "library/debian" (lowercase letters, digits, ".", "_", "-", "/")' },
);
const Tag = Text(128).regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/, {
  message: 'must be a tag: letters, digits, "_", "." and "-", not starting with "." or "-"',
});

/** ISO 8601 with a time zone (Z or ±hh:mm); the future is checked by the service against its clock. */
const ExpiresAt = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 date-time with a time zone, e.g. 2026-12-31T23:59:59Z' })
  .transform((v) => new Date(v))
  .nullable();

/** Which of repository / image / tag each scope needs; the others must be absent. */
export const SCOPE_FIELDS: Record<
  (typeof SUPPRESSION_SCOPES)[number],
  ReadonlyArray<'repository' | 'image' | 'tag'>
> = {
  global: [],
  registry: ['repository'],
  image: ['repository', 'image'],
  tag: ['repository', 'image', 'tag'],
};

/** POST /api/suppressions and PUT /api/suppressions/:id (a PUT replaces every user field). */
export const SuppressionBody = z
  .strictObject({
    cveId: CveId,
    scope: z.enum(SUPPRESSION_SCOPES, { error: `must be one of ${SUPPRESSION_SCOPES.join(', ')}` }),
    repository: Text(300).optional().meta({ description: 'registry key host:port, alias or unambiguous host' }),
    image: ImageName.optional(),
    tag: Tag.optional(),
    reason: Text(2000),
    author: Text(200),
    expiresAt: ExpiresAt.optional().meta({
      description: 'ISO 8601 with a time zone, in the future; null or absent: never',
    }),
  })
  .superRefine((b, ctx) => {
    const needed = SCOPE_FIELDS[b.scope];
    for (const f of ['repository', 'image', 'tag'] as const) {
      if (needed.includes(f) && b[f] === undefined) {
        ctx.addIssue({ code: 'custom', path: [f], message: `is required for scope "${b.scope}"` });
      } else if (!needed.includes(f) && b[f] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [f], message: `must not be set for scope "${b.scope}"` });
      }
    }
  })
  .meta({ id: 'SuppressionBody' });
export type SuppressionBody = z.infer<typeof SuppressionBody>;

export const SuppressionId = z.strictObject({
  id: ObjectIdString,
});
export type SuppressionId = z.infer<typeof SuppressionId>;

const BoolString = z.enum(['true', 'false'], { error: 'must be true or false' }).transform((v) => v === 'true');

export const ListSuppressionsQuery = z.strictObject({
  from: QueryInt(0, 10_000_000, 0),
  size: QuerySize,
  cveId: CveId.optional(),
  active: BoolString.optional(),
});
export type ListSuppressionsQuery = z.infer<typeof ListSuppressionsQuery>;

export const SuppressionView = z
  .object({
    _id: z.string(),
    cveId: z.string(),
    scope: z.enum(SUPPRESSION_SCOPES),
    repository: z.string().nullable(),
    image: z.string().nullable(),
    tag: z.string().nullable(),
    reason: z.string(),
    author: z.string(),
    expiresAt: z.string().nullable(),
    active: z.boolean().meta({ description: 'false once expiresAt passed (set by the expiry sweep)' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Suppression' });
export type SuppressionView = z.infer<typeof SuppressionView>;

import { z } from 'zod';

/** GET /healthz: the process is alive (it answers without touching the database). */
export const Health = z.object({ status: z.literal('alive') }).meta({ id: 'Health', example: { status: 'alive' } });
export type Health = z.infer<typeof Health>;

/**
 * GET /readyz: the database answered a read; `clair` is informative (null when no Clair is wired).
 * An object, so further checks are added as fields.
 */
export const Readiness = z
  .object({
    database: z.boolean(),
    clair: z.boolean().nullable().meta({ description: 'Clair answered; null when no Clair client is configured' }),
    auth: z.enum(['open', 'token']).meta({
      description: '"token": /api requires a bearer token (API_TOKENS or API_READ_TOKENS); "open": none is configured',
    }),
  })
  .meta({ id: 'Readiness', example: { database: true, clair: true, auth: 'token' } });
export type Readiness = z.infer<typeof Readiness>;

import { z } from 'zod';
import { ObjectIdString, QueryInt, QuerySize } from '../../http/schemas';
import { LEVELS } from '../../domain/severity';

const Url = z
  .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
  .max(2000, 'must be at most 2000 characters');

const MinLevel = z
  .string({ error: `must be one of ${LEVELS.join(', ')}` })
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(LEVELS, { error: `must be one of ${LEVELS.join(', ')}` }));

const Secret = z
  .string({ error: 'must be a string' })
  .max(256, 'must be at most 256 characters')
  .refine((v) => v === '' || v === '******' || v.length >= 16, 'must be at least 16 characters');

const Repository = z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(300);

export const CreateWebhook = z
  .strictObject({
    url: Url,
    minLevel: MinLevel.default('high'),
    secret: Secret.optional().meta({
      description: 'HMAC-SHA256 key (16+ characters); stored encrypted, shown as ******',
    }),
    enabled: z.boolean({ error: 'must be true or false' }).default(true),
    repository: Repository.nullable()
      .optional()
      .meta({ description: 'only images of this registry (key, alias or host); absent or null: all' }),
  })
  .meta({ id: 'CreateWebhook' });
export type CreateWebhook = z.infer<typeof CreateWebhook>;

/** PUT: absent fields keep their value; secret absent or ****** keeps it, '' removes it; repository null removes the filter. */
export const UpdateWebhook = z
  .strictObject({
    url: Url.optional(),
    minLevel: MinLevel.optional(),
    secret: Secret.optional(),
    enabled: z.boolean({ error: 'must be true or false' }).optional(),
    repository: Repository.nullable().optional(),
  })
  .meta({ id: 'UpdateWebhook' });
export type UpdateWebhook = z.infer<typeof UpdateWebhook>;

export const WebhookId = z.strictObject({
  id: ObjectIdString,
});
export type WebhookId = z.infer<typeof WebhookId>;

export const ListWebhooksQuery = z.strictObject({
  from: QueryInt(0, 10_000_000, 0),
  size: QuerySize,
});
export type ListWebhooksQuery = z.infer<typeof ListWebhooksQuery>;

export const WebhookView = z
  .object({
    _id: z.string(),
    url: z.string(),
    minLevel: z.enum(LEVELS),
    secret: z.string().meta({ description: '"******" when one is stored, "" when none' }),
    enabled: z.boolean(),
    repository: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Webhook' });
export type WebhookView = z.infer<typeof WebhookView>;

/** What a receiver gets (documented for receivers; the body is built from these fields). */
export const AlertPayload = z
  .object({
    id: z.string().meta({ description: 'event id, also in X-Vulnscan-Event; the same on every retry' }),
    type: z.literal('vulnerabilities.new'),
    createdAt: z.string(),
    digest: z.string(),
    minLevel: z.enum(LEVELS),
    vulnerabilities: z.array(
      z.object({
        cveId: z.string(),
        level: z.string(),
        package: z.string(),
        version: z.string(),
        fixedBy: z.string(),
        link: z.string(),
      }),
    ),
    vulnerabilitiesTotal: z.number().int(),
    images: z.array(z.object({ registry: z.string(), image: z.string(), tag: z.string(), digest: z.string() })),
  })
  .meta({ id: 'AlertPayload' });
export type AlertPayload = z.infer<typeof AlertPayload>;

import { z } from 'zod';

// Names and tags as the distribution spec allows them; anything else is not a push we can act on.
const ImageName = z
  .string()
  .max(255)
  .regex(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/, {
    message: 'must be a repository name like "library/debian"',
  });
const Tag = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/, { message: 'must be a tag' });
const Text = (max: number) => z.string().max(max, `must be at most ${max} characters`);

/**
 * A Docker distribution notification envelope (`application/vnd.docker.distribution.events.v1+json`,
 * distribution docs/notifications.md): only the fields used are checked; others pass untouched.
 */
export const DistributionEnvelope = z
  .object({
    events: z
      .array(
        z.object({
          id: Text(200).optional(),
          action: Text(50),
          target: z
            .object({
              mediaType: Text(255).optional(),
              digest: Text(255).optional(),
              repository: ImageName.optional(),
              tag: z.union([Tag, z.literal('')]).optional(),
              url: Text(4096).optional(),
            })
            .optional(),
          request: z.object({ host: Text(300).optional() }).optional(),
        }),
      )
      .max(1000, 'must hold at most 1000 events'),
  })
  .meta({ id: 'DistributionEnvelope' });
export type DistributionEnvelope = z.infer<typeof DistributionEnvelope>;

/** A Harbor webhook (payload format "Default"): PUSH_ARTIFACT and the other event types. */
export const HarborWebhook = z
  .object({
    type: Text(100),
    occur_at: z.union([z.number(), Text(100)]).optional(),
    event_data: z
      .object({
        resources: z
          .array(
            z.object({
              digest: Text(255).optional(),
              tag: z.union([Tag, z.literal('')]).optional(),
              resource_url: Text(4096).optional(),
            }),
          )
          .max(1000, 'must hold at most 1000 resources')
          .optional(),
        repository: z
          .object({
            name: Text(255).optional(),
            namespace: Text(255).optional(),
            repo_full_name: ImageName.optional(),
          })
          .optional(),
      })
      .optional(),
  })
  .meta({ id: 'HarborWebhook' });
export type HarborWebhook = z.infer<typeof HarborWebhook>;

export const WebhookQuery = z.strictObject({
  repository: z
    .string({ error: 'must be a string' })
    .trim()
    .min(1, 'must not be empty')
    .max(300, 'is too long')
    .optional(),
});
export type WebhookQuery = z.infer<typeof WebhookQuery>;

export const WebhookResult = z
  .object({
    events: z.number().int().meta({ description: 'events (distribution) or resources (Harbor) received' }),
    accepted: z
      .number()
      .int()
      .meta({ description: 'tag pushes stored in the inbox; each is discovered and its digest queued shortly' }),
    ignored: z.object({
      notPush: z.number().int().meta({ description: 'pulls, deletes, mounts, other Harbor event types' }),
      blob: z.number().int().meta({ description: 'layer and config blob pushes' }),
      untagged: z.number().int().meta({ description: 'pushes by digest, without a tag' }),
      duplicate: z
        .number()
        .int()
        .meta({ description: 'events whose id was received before (in this delivery or an earlier one)' }),
    }),
  })
  .meta({ id: 'WebhookResult' });
export type WebhookResult = z.infer<typeof WebhookResult>;

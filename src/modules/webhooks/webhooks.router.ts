import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import express, { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../../http/deps';
import { errorResponse } from '../../http/openapi-parts';
import { EnvelopeOf, ok } from '../../http/envelope';
import { requireSharedSecret } from '../../http/middleware/auth';
import { inputOf, validate } from '../../http/middleware/validate';
import { registriesServiceFrom } from '../registries';
import { scannerFrom } from '../scanner';
import { DistributionEnvelope, HarborWebhook, WebhookQuery, WebhookResult } from './webhooks.schemas';
import { createWebhooksService } from './webhooks.service';

/**
 * /api/webhooks/registry: scan on push. Mounted before the /api token check (app.ts): registries
 * and Harbor cannot send our API tokens, so WEBHOOK_SECRET guards it instead, checked before the
 * body is parsed. Distribution sends `application/vnd.docker.distribution.events.v1+json`.
 */
export function webhooksRouter(deps: AppDeps): Router {
  const service = createWebhooksService({
    registries: registriesServiceFrom(deps),
    scanner: scannerFrom(deps).service,
  });
  const router = Router();
  router.post(
    '/registry',
    requireSharedSecret(deps.config.webhookSecret, 'POST /api/webhooks/registry'),
    express.json({ limit: '1mb', type: (req) => /json/i.test(String(req.headers['content-type'] ?? '')) }),
    validate({ query: WebhookQuery }),
    async (req, res) => {
      const { query } = inputOf<{ query: WebhookQuery }>(res);
      const ctx = { log: req.log, requestId: String(req.id ?? '') || undefined };
      res.json(ok(await service.receive(req.body, query, ctx)));
    },
  );
  return router;
}

export function registerWebhooksOpenApi(registry: OpenAPIRegistry): void {
  const err = errorResponse;
  const body = z.union([DistributionEnvelope, HarborWebhook]);
  registry.registerPath({
    method: 'post',
    path: '/api/webhooks/registry',
    tags: ['webhooks'],
    summary:
      'Scan on push: a Docker distribution notification envelope or a Harbor webhook. Each tag push is discovered ' +
      '(that tag only) and its digest queued; pulls, blob and tag-less pushes are counted and ignored. ' +
      'Guarded by WEBHOOK_SECRET (Authorization: Bearer <secret>, or the bare secret), not by API_TOKENS. ' +
      'The registry is ?repository= when given, else the one whose key or alias is the event host.',
    request: {
      query: WebhookQuery,
      body: {
        required: true,
        content: {
          'application/vnd.docker.distribution.events.v1+json': { schema: DistributionEnvelope },
          'application/json': { schema: body },
        },
      },
    },
    responses: {
      200: {
        description: 'what was queued and ignored',
        content: { 'application/json': { schema: EnvelopeOf(WebhookResult) } },
      },
      400: err('neither envelope nor Harbor webhook, or invalid fields (5003)'),
      401: err('missing or wrong secret, or WEBHOOK_SECRET not set (5007)'),
      404: err('?repository= names no registry (5004)'),
      502: err('the registry could not be read (5002); the sender retries'),
      503: err('database unavailable (5005)'),
    },
  });
}

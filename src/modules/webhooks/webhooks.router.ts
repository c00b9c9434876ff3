import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import express, { Router } from 'express';
import { z } from 'zod';
import { instanceId } from '../../db/lease';
import type { AppDeps } from '../../http/deps';
import { errorResponse } from '../../http/openapi-parts';
import { EnvelopeOf, ok } from '../../http/envelope';
import { requireSharedSecret } from '../../http/middleware/auth';
import { inputOf, validate } from '../../http/middleware/validate';
import { registriesServiceFrom } from '../registries';
import { scannerFrom } from '../scanner';
import { DistributionEnvelope, HarborWebhook, WebhookQuery, WebhookResult } from './webhooks.schemas';
import { createInboxWorker, type InboxWorker } from './webhook-inbox.worker';
import { createWebhooksService, type WebhooksService } from './webhooks.service';

export interface Webhooks {
  service: WebhooksService;
  /** Drains the inbox; server.ts starts it, tests drive it. */
  worker: InboxWorker;
}

const built = new WeakMap<AppDeps, Webhooks>();

/** The webhooks of one app (service and inbox worker), built once per deps object. */
export function webhooksFrom(deps: AppDeps): Webhooks {
  let w = built.get(deps);
  if (!w) {
    const service = createWebhooksService({
      registries: registriesServiceFrom(deps),
      scanner: scannerFrom(deps).service,
    });
    const worker = createInboxWorker({
      service,
      logger: deps.logger,
      instance: deps.instanceId ?? instanceId(),
      pollMs: deps.config.webhookInbox.pollMs,
      retentionHours: deps.config.webhookInbox.retentionHours,
    });
    w = { service, worker };
    built.set(deps, w);
  }
  return w;
}

/**
 * /api/webhooks/registry: scan on push. Mounted before the /api token check (app.ts): registries
 * and Harbor cannot send our API tokens, so WEBHOOK_SECRET guards it instead, checked before the
 * body is parsed. Distribution sends `application/vnd.docker.distribution.events.v1+json`.
 */
export function webhooksRouter(deps: AppDeps): Router {
  const { service } = webhooksFrom(deps);
  const router = Router();
  router.post(
    '/registry',
    requireSharedSecret(deps.config.webhookSecret, 'POST /api/webhooks/registry'),
    express.json({ limit: '1mb', type: (req) => /json/i.test(String(req.headers['content-type'] ?? '')) }),
    validate({ query: WebhookQuery }),
    async (req, res) => {
      const { query } = inputOf<{ query: WebhookQuery }>(res);
      const ctx = { log: req.log, requestId: String(req.id ?? '') || undefined };
      // 202: stored in the inbox, discovered in the background (the sender's connection is not held).
      res.status(202).json(ok(await service.receive(req.body, query, ctx)));
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
      'Scan on push: a Docker distribution notification envelope or a Harbor webhook. Each tag push is stored in ' +
      'the inbox (once per event id) and answered 202; the inbox worker then discovers that tag and queues its ' +
      'digest. Pulls, blob and tag-less pushes are counted and ignored. ' +
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
      202: {
        description: 'what was stored for discovery and what was ignored',
        content: { 'application/json': { schema: EnvelopeOf(WebhookResult) } },
      },
      400: err('neither envelope nor Harbor webhook, or invalid fields (5003)'),
      401: err('missing or wrong secret, or WEBHOOK_SECRET not set (5007)'),
      404: err('?repository= names no registry (5004)'),
      503: err('database unavailable (5005)'),
    },
  });
}

import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import { z } from 'zod';
import { outboundOf } from '../../http/deps';
import { secretBoxFromConfig } from '../../crypto/secret-box';
import { instanceId } from '../../db/lease';
import type { Ctx } from '../../http/context';
import type { AppDeps } from '../../http/deps';
import { errorResponse, jsonContent } from '../../http/openapi-parts';
import { EnvelopeOf, ok } from '../../http/envelope';
import { inputOf, validate } from '../../http/middleware/validate';
import { registriesServiceFrom } from '../registries';
import { CreateWebhook, ListWebhooksQuery, UpdateWebhook, WebhookId, WebhookView } from './alerts.schemas';
import { createAlertsService, type AlertsService } from './alerts.service';
import { createAlertWorker, type AlertWorker } from './alerts.worker';
import { createAlertDeriver, createAlertOutbox, type AlertDeriver } from './alerts.outbox';

export interface Alerts {
  service: AlertsService;
  worker: AlertWorker;
  /** The periodic derivation of the outbox (alerts.outbox.ts), run by every instance under a lease. */
  deriver: AlertDeriver;
}

const built = new WeakMap<AppDeps, Alerts>();

/** The alerts of one app (webhooks service, enqueuer, delivery worker), built once per deps object. */
export function alertsFrom(deps: AppDeps): Alerts {
  let a = built.get(deps);
  if (!a) {
    const outbox = createAlertOutbox({ alerts: deps.config.alerts });
    const service = createAlertsService({
      outbox,
      registries: registriesServiceFrom(deps),
      secretBox: deps.secretBox ?? secretBoxFromConfig(deps.config, deps.logger),
      alerts: deps.config.alerts,
      outbound: outboundOf(deps),
    });
    const worker = createAlertWorker({
      service,
      alerts: deps.config.alerts,
      logger: deps.logger,
      instance: deps.instanceId ?? instanceId(),
      outbound: outboundOf(deps),
    });
    const deriver = createAlertDeriver({ outbox, logger: deps.logger, instance: deps.instanceId ?? instanceId() });
    a = { service, worker, deriver };
    built.set(deps, a);
  }
  return a;
}

const ctxOf = (req: { log: AppDeps['logger']; id?: unknown }): Ctx => ({
  log: req.log,
  requestId: String(req.id ?? '') || undefined,
});

/** /api/alerts/webhooks: GET list, POST create, GET/PUT/DELETE /:id. Secrets are never returned. */
export function alertsRouter(deps: AppDeps): Router {
  const { service } = alertsFrom(deps);
  const router = Router();

  router.get('/webhooks', validate({ query: ListWebhooksQuery }), async (_req, res) => {
    const { query } = inputOf<{ query: ListWebhooksQuery }>(res);
    const page = await service.list(query);
    res.set('X-Total-Count', String(page.count)).json(ok(page));
  });

  router.post('/webhooks', validate({ body: CreateWebhook }), async (req, res) => {
    const { body } = inputOf<{ body: CreateWebhook }>(res);
    res.status(201).json(ok(await service.create(body, ctxOf(req))));
  });

  router.get('/webhooks/:id', validate({ params: WebhookId }), async (_req, res) => {
    const { params } = inputOf<{ params: WebhookId }>(res);
    res.json(ok(await service.get(params.id)));
  });

  router.put('/webhooks/:id', validate({ params: WebhookId, body: UpdateWebhook }), async (req, res) => {
    const { params, body } = inputOf<{ params: WebhookId; body: UpdateWebhook }>(res);
    res.json(ok(await service.update(params.id, body, ctxOf(req))));
  });

  router.delete('/webhooks/:id', validate({ params: WebhookId }), async (req, res) => {
    const { params } = inputOf<{ params: WebhookId }>(res);
    res.json(ok(await service.remove(params.id, ctxOf(req))));
  });

  return router;
}

export function registerAlertsOpenApi(registry: OpenAPIRegistry): void {
  const json = jsonContent;
  const err = errorResponse;
  const tags = ['alerts'];
  const page = z.object({ docs: z.array(WebhookView), count: z.number().int() });
  registry.registerPath({
    method: 'get',
    path: '/api/alerts/webhooks',
    tags,
    summary: 'Alert receivers managed through the API (ALERT_WEBHOOK_URLS ones are not listed), newest first',
    request: { query: ListWebhooksQuery },
    responses: {
      200: { description: 'a page of webhooks', content: json(EnvelopeOf(page)) },
      400: err('invalid query (5003)'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/alerts/webhooks',
    tags,
    summary:
      'Add a receiver: POSTed (signed with HMAC-SHA256 when it has a secret) when a scan finds new CVEs at or above minLevel',
    request: { body: { required: true, content: json(CreateWebhook) } },
    responses: {
      201: { description: 'the webhook (secret masked)', content: json(EnvelopeOf(WebhookView)) },
      400: err('invalid body (5003)'),
      404: err('unknown registry filter (5004)'),
    },
  });
  const byId = { params: WebhookId };
  registry.registerPath({
    method: 'get',
    path: '/api/alerts/webhooks/{id}',
    tags,
    summary: 'One webhook (secret masked)',
    request: byId,
    responses: {
      200: { description: 'the webhook', content: json(EnvelopeOf(WebhookView)) },
      400: err('malformed id (5003)'),
      404: err('unknown webhook (5004)'),
    },
  });
  registry.registerPath({
    method: 'put',
    path: '/api/alerts/webhooks/{id}',
    tags,
    summary: 'Change a webhook: absent fields keep their value; secret absent or ****** keeps it, "" removes it',
    request: { ...byId, body: { required: true, content: json(UpdateWebhook) } },
    responses: {
      200: { description: 'the webhook', content: json(EnvelopeOf(WebhookView)) },
      400: err('malformed id or body (5003)'),
      404: err('unknown webhook or registry (5004)'),
    },
  });
  registry.registerPath({
    method: 'delete',
    path: '/api/alerts/webhooks/{id}',
    tags,
    summary: 'Remove a webhook; its queued deliveries are dropped when their turn comes',
    request: byId,
    responses: {
      200: { description: 'the deleted webhook', content: json(EnvelopeOf(WebhookView)) },
      400: err('malformed id (5003)'),
      404: err('unknown webhook (5004)'),
    },
  });
}

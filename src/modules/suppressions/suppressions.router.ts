import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import { z } from 'zod';
import { instanceId } from '../../db/lease';
import type { Ctx } from '../../http/context';
import type { AppDeps } from '../../http/deps';
import { errorResponse, jsonContent, totalCountHeader } from '../../http/openapi-parts';
import { EnvelopeOf, ok } from '../../http/envelope';
import { inputOf, validate } from '../../http/middleware/validate';
import { registriesServiceFrom } from '../registries';
import { ListSuppressionsQuery, SuppressionBody, SuppressionId, SuppressionView } from './suppressions.schemas';
import { createSuppressionsService, type SuppressionsService } from './suppressions.service';

const services = new WeakMap<AppDeps, SuppressionsService>();

/** The suppressions service of an app (and its expiry sweep), built once per deps object. */
export function suppressionsFrom(deps: AppDeps): SuppressionsService {
  let s = services.get(deps);
  if (!s) {
    s = createSuppressionsService({
      registries: registriesServiceFrom(deps),
      suppressions: deps.config.suppressions,
      logger: deps.logger,
      instance: deps.instanceId ?? instanceId(),
    });
    services.set(deps, s);
  }
  return s;
}

const ctxOf = (req: { log: AppDeps['logger']; id?: unknown }): Ctx => ({
  log: req.log,
  requestId: String(req.id ?? '') || undefined,
});

/** /api/suppressions: GET list, POST create, GET/PUT/DELETE /:id. */
export function suppressionsRouter(deps: AppDeps): Router {
  const service = suppressionsFrom(deps);
  const router = Router();

  router.get('/', validate({ query: ListSuppressionsQuery }), async (_req, res) => {
    const { query } = inputOf<{ query: ListSuppressionsQuery }>(res);
    const page = await service.list(query);
    res.set('X-Total-Count', String(page.count)).json(ok(page));
  });

  router.post('/', validate({ body: SuppressionBody }), async (req, res) => {
    const { body } = inputOf<{ body: SuppressionBody }>(res);
    res.status(201).json(ok(await service.create(body, ctxOf(req))));
  });

  router.get('/:id', validate({ params: SuppressionId }), async (_req, res) => {
    const { params } = inputOf<{ params: SuppressionId }>(res);
    res.json(ok(await service.get(params.id)));
  });

  router.put('/:id', validate({ params: SuppressionId, body: SuppressionBody }), async (req, res) => {
    const { params, body } = inputOf<{ params: SuppressionId; body: SuppressionBody }>(res);
    res.json(ok(await service.update(params.id, body, ctxOf(req))));
  });

  router.delete('/:id', validate({ params: SuppressionId }), async (req, res) => {
    const { params } = inputOf<{ params: SuppressionId }>(res);
    res.json(ok(await service.remove(params.id, ctxOf(req))));
  });

  return router;
}

export function registerSuppressionsOpenApi(registry: OpenAPIRegistry): void {
  const json = jsonContent;
  const err = errorResponse;
  const page = z.object({ docs: z.array(SuppressionView), count: z.number().int() });
  const total = totalCountHeader('suppressions');
  const tags = ['suppressions'];
  registry.registerPath({
    method: 'get',
    path: '/api/suppressions',
    tags,
    summary: 'Suppressions, newest first, paged (from, size), optionally by cveId or active',
    request: { query: ListSuppressionsQuery },
    responses: {
      200: { description: 'a page of suppressions', headers: total, content: json(EnvelopeOf(page)) },
      400: err('invalid query (5003)'),
      503: err('database unavailable (5005)'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/suppressions',
    tags,
    summary:
      'Suppress a CVE globally, per registry, image or tag: its findings stay listed (suppressed: true) but leave counts and scores, recomputed before the reply',
    request: { body: { required: true, content: json(SuppressionBody) } },
    responses: {
      201: { description: 'the suppression', content: json(EnvelopeOf(SuppressionView)) },
      400: err(
        'invalid body: malformed cveId or expiresAt, expiresAt in the past, scope fields missing or superfluous (5003)',
      ),
      404: err('unknown registry (5004)'),
      503: err('database unavailable (5005)'),
    },
  });
  const byId = { params: SuppressionId };
  registry.registerPath({
    method: 'get',
    path: '/api/suppressions/{id}',
    tags,
    summary: 'One suppression',
    request: byId,
    responses: {
      200: { description: 'the suppression', content: json(EnvelopeOf(SuppressionView)) },
      400: err('malformed id (5003)'),
      404: err('unknown suppression (5004)'),
    },
  });
  registry.registerPath({
    method: 'put',
    path: '/api/suppressions/{id}',
    tags,
    summary: 'Replace a suppression (every field as on create); counts of the old and new CVE are recomputed',
    request: { ...byId, body: { required: true, content: json(SuppressionBody) } },
    responses: {
      200: { description: 'the updated suppression', content: json(EnvelopeOf(SuppressionView)) },
      400: err('malformed id or body (5003)'),
      404: err('unknown suppression or registry (5004)'),
    },
  });
  registry.registerPath({
    method: 'delete',
    path: '/api/suppressions/{id}',
    tags,
    summary: 'Delete a suppression; the counts and scores it lowered come back before the reply',
    request: byId,
    responses: {
      200: { description: 'the deleted suppression', content: json(EnvelopeOf(SuppressionView)) },
      400: err('malformed id (5003)'),
      404: err('unknown suppression (5004)'),
    },
  });
}

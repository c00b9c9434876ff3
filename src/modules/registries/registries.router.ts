import { Router } from 'express';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { secretBoxFromConfig } from '../../crypto/secret-box';
import { ParameterError } from '../../errors/app-error';
import { outboundOf, type AppDeps } from '../../http/deps';
import { errorResponse, jsonContent } from '../../http/openapi-parts';
import { EnvelopeOf, ok } from '../../http/envelope';
import { inputOf, validate } from '../../http/middleware/validate';
import { createRegistriesService, type RegistriesService } from './registries.service';
import { CreateRegistry, RegistryQuery, RegistryView, UpdateRegistry } from './registries.schemas';

const services = new WeakMap<AppDeps, RegistriesService>();

/**
 * The registries service of an app, built once per deps object so that the router and the scan
 * pipeline share its client cache. Uses deps.secretBox, else the key from config (SECRET_KEY or
 * DATA_DIR/secret.key).
 */
export function registriesServiceFrom(deps: AppDeps): RegistriesService {
  let s = services.get(deps);
  if (!s) {
    s = createRegistriesService({
      secretBox: deps.secretBox ?? secretBoxFromConfig(deps.config, deps.logger),
      timeoutMs: deps.config.registry.timeoutMs,
      testTimeoutMs: deps.config.registry.testTimeoutMs,
      timezone: deps.config.schedule.timezone,
      politeness: {
        maxRequestsPerSecond: deps.config.registry.maxRequestsPerSecond,
        requestBurst: deps.config.registry.requestBurst,
        retries429: deps.config.registry.retries429,
        maxRetryAfterMs: deps.config.registry.maxRetryAfterMs,
      },
      onRegistryCreated: deps.onRegistryCreated,
      outbound: outboundOf(deps),
    });
    services.set(deps, s);
  }
  return s;
}

function hasBody(body: unknown): boolean {
  return body !== undefined && body !== null && !(typeof body === 'object' && Object.keys(body).length === 0);
}

/**
 * /api/repository: GET list, POST create (+ connection test), PUT update (JSON body) or connection
 * test (`?repository=`, no body), DELETE `?repository=` (with the registry's images).
 */
export function registriesRouter(deps: AppDeps): Router {
  const service = registriesServiceFrom(deps);
  const router = Router();
  const ctxOf = (req: { log: AppDeps['logger']; id?: unknown }) => ({
    log: req.log,
    requestId: String(req.id ?? '') || undefined,
  });

  router.get('/', async (_req, res) => {
    res.json(ok(await service.list()));
  });

  router.post('/', validate({ body: CreateRegistry }), async (req, res) => {
    const { body } = inputOf<{ body: CreateRegistry }>(res);
    res.json(ok(await service.create(body, ctxOf(req))));
  });

  router.put('/', async (req, res, next) => {
    // One method for two things (the seed's contract): the query parameter decides.
    if (req.query.repository === undefined) return next();
    if (hasBody(req.body)) {
      throw new ParameterError('give either ?repository= (connection test) or a JSON body (update), not both');
    }
    const parsed = RegistryQuery.safeParse(req.query);
    if (!parsed.success) throw new ParameterError(`query.repository: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    res.json(ok(await service.testConnection(parsed.data.repository, ctxOf(req))));
  });

  router.put('/', validate({ body: UpdateRegistry }), async (req, res) => {
    const { body } = inputOf<{ body: UpdateRegistry }>(res);
    res.json(ok(await service.update(body, ctxOf(req))));
  });

  router.delete('/', validate({ query: RegistryQuery }), async (req, res) => {
    const { query } = inputOf<{ query: RegistryQuery }>(res);
    res.json(ok(await service.remove(query.repository, ctxOf(req))));
  });

  return router;
}

export function registerRegistriesOpenApi(registry: OpenAPIRegistry): void {
  const json = jsonContent;
  const err = errorResponse;
  const one = { description: 'the registry (passwd masked)', content: json(EnvelopeOf(RegistryView)) };
  const query = z.object({
    repository: z.string().meta({
      description: 'the key host:port, the alias, or a host that exactly one registry has',
      example: '192.168.10.118:5000',
    }),
  });
  registry.registerPath({
    method: 'get',
    path: '/api/repository',
    tags: ['registries'],
    summary: 'Every registry (passwords masked)',
    responses: {
      200: { description: 'registries', content: json(EnvelopeOf(z.array(RegistryView))) },
      503: err('database unavailable (5005)'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/repository',
    tags: ['registries'],
    summary:
      'Add a registry; a bounded connection test runs and its result is stored (a failure does not prevent creation)',
    request: { body: { required: true, content: json(CreateRegistry) } },
    responses: {
      200: one,
      400: err('invalid field (5003)'),
      409: err('same host and port, or same alias, exists (5006)'),
      503: err('database unavailable (5005)'),
    },
  });
  registry.registerPath({
    method: 'put',
    path: '/api/repository',
    tags: ['registries'],
    summary:
      'With a JSON body: update a registry (found by _id, else repository + port; an absent, empty or "******" passwd keeps the stored one). ' +
      'With ?repository= and no body: test the connection (GET /v2/ with the token exchange) and store isConnect/connectError',
    request: { query: query.partial(), body: { required: false, content: json(UpdateRegistry) } },
    responses: {
      200: one,
      400: err('invalid field, or an ambiguous ?repository= (5003)'),
      404: err('unknown registry (5004)'),
      409: err('the new host and port, or alias, is taken (5006)'),
      503: err('database unavailable (5005)'),
    },
  });
  registry.registerPath({
    method: 'delete',
    path: '/api/repository',
    tags: ['registries'],
    summary: 'Remove a registry and its images; answers the removed registry',
    request: { query },
    responses: {
      200: one,
      400: err('missing or ambiguous ?repository= (5003)'),
      404: err('unknown registry (5004)'),
      503: err('database unavailable (5005)'),
    },
  });
}

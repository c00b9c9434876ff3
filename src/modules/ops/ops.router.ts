import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import { DatabaseError } from '../../errors/app-error';
import type { AppDeps } from '../../http/deps';
import { EnvelopeOf, ErrorEnvelope, ok } from '../../http/envelope';
import { registry as metricsRegistry } from '../../metrics';
import { Health, Readiness } from './ops.schemas';
import * as opsService from './ops.service';

/**
 * GET /healthz (alive), GET /readyz (the database answers a read; Clair reported), GET /metrics (Prometheus).
 * Mounted at the root, outside /api, so probes and scrapers need no API token.
 */
export function opsRouter(deps: AppDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json(ok({ status: 'alive' } satisfies Health));
  });
  router.get('/readyz', async (req, res) => {
    const { apiTokens, apiReadTokens } = deps.config;
    const auth = apiTokens.length + apiReadTokens.length > 0 ? 'token' : 'open';
    const { databaseProblem, ...ready } = await opsService.readiness(
      { clairPing: deps.clairPing, auth },
      { log: req.log },
    );
    if (!ready.database) {
      const clair = ready.clair === null ? 'not configured' : ready.clair ? 'reachable' : 'unreachable';
      throw new DatabaseError(`not ready: the database does not answer a read: ${databaseProblem} (clair: ${clair})`);
    }
    res.json(ok(ready satisfies Readiness));
  });
  router.get('/metrics', async (_req, res) => {
    res.type(metricsRegistry.contentType).send(await metricsRegistry.metrics());
  });
  return router;
}

export function registerOpsOpenApi(registry: OpenAPIRegistry): void {
  // An empty security requirement overrides the document-wide bearer requirement.
  const open: Array<Record<string, string[]>> = [];
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    tags: ['operations'],
    summary: 'Liveness: the process answers (does not check the database)',
    security: open,
    responses: {
      200: { description: 'alive', content: { 'application/json': { schema: EnvelopeOf(Health) } } },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    tags: ['operations'],
    summary: 'Readiness: the database answers a read; Clair reachability is reported, never a failure',
    security: open,
    responses: {
      200: { description: 'ready', content: { 'application/json': { schema: EnvelopeOf(Readiness) } } },
      503: {
        description: 'the database does not answer (5005)',
        content: { 'application/json': { schema: ErrorEnvelope } },
      },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    tags: ['operations'],
    summary: 'Prometheus metrics: HTTP request durations by method, route and status; scans; errors; process',
    security: open,
    responses: {
      200: {
        description: 'Prometheus text exposition format 0.0.4',
        content: {
          'text/plain': {
            schema: {
              type: 'string',
              example: 'vulnscan_http_request_duration_seconds_count{method="GET",route="/api/score",status="200"} 1',
            },
          },
        },
      },
    },
  });
}

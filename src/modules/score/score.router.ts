import { Router } from 'express';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { EnvelopeOf, ErrorEnvelope, ok } from '../../http/envelope';
import { inputOf, validate } from '../../http/middleware/validate';
import type { AppDeps } from '../../http/deps';
import { UpdateWeights, Weights } from './score.schemas';
import * as scoreService from './score.service';

/** GET /api/score (weights), PUT /api/score (partial update, re-scores every image). */
/** How long GET /api/score answers from memory; another instance's update shows within this time. */
export const SCORE_CACHE_TTL_MS = 500;

export function scoreRouter(deps: AppDeps): Router {
  const router = Router();
  // Per app, not per module: two apps on one database (tests, or instances) each keep their own copy.
  const cache = scoreService.createWeightsCache(SCORE_CACHE_TTL_MS);
  router.get('/', async (req, res) => {
    const fresh = /\bno-cache\b/i.test(req.get('cache-control') ?? '');
    res.json(ok(await cache.get({ fresh })));
  });
  router.put('/', validate({ body: UpdateWeights }), async (req, res) => {
    const { body } = inputOf<{ body: UpdateWeights }>(res);
    const written = await scoreService.update(body, { batchSize: deps.config.rescoreBatchSize }, { log: req.log });
    cache.remember(written);
    res.json(ok(written.weights));
  });
  return router;
}

export function registerScoreOpenApi(registry: OpenAPIRegistry): void {
  const errors = {
    400: { description: 'invalid body (5003)', content: { 'application/json': { schema: ErrorEnvelope } } },
    503: { description: 'database unavailable (5005)', content: { 'application/json': { schema: ErrorEnvelope } } },
  };
  registry.registerPath({
    method: 'get',
    path: '/api/score',
    tags: ['score'],
    summary: 'The six severity weights used to score images',
    description:
      'Answered from memory for up to 0.5 s; an update through another instance shows within that time. ' +
      'Send `Cache-Control: no-cache` to read the database.',
    responses: {
      200: { description: 'weights', content: { 'application/json': { schema: EnvelopeOf(Weights) } } },
      503: errors[503],
    },
  });
  registry.registerPath({
    method: 'put',
    path: '/api/score',
    tags: ['score'],
    summary: 'Change some weights; every stored image is re-scored before the reply',
    request: { body: { required: true, content: { 'application/json': { schema: UpdateWeights } } } },
    responses: {
      200: {
        description: 'all six weights after the update',
        content: { 'application/json': { schema: EnvelopeOf(Weights) } },
      },
      ...errors,
    },
  });
}

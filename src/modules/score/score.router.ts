import { Router } from 'express';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { EnvelopeOf, ErrorEnvelope, ok } from '../../http/envelope';
import { inputOf, validate } from '../../http/middleware/validate';
import type { AppDeps } from '../../http/deps';
import { UpdateWeights, Weights } from './score.schemas';
import * as scoreService from './score.service';

/** GET /api/score (weights), PUT /api/score (partial update, re-scores every image). */
export function scoreRouter(deps: AppDeps): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    res.json(ok(await scoreService.get()));
  });
  router.put('/', validate({ body: UpdateWeights }), async (req, res) => {
    const { body } = inputOf<{ body: UpdateWeights }>(res);
    const weights = await scoreService.update(body, { batchSize: deps.config.rescoreBatchSize }, { log: req.log });
    res.json(ok(weights));
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

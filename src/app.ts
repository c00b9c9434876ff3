import express, { type Express } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { AppDeps } from './http/deps';
import { errorHandler } from './http/middleware/error-handler';
import { httpMetrics } from './http/middleware/metrics';
import { notFound } from './http/middleware/not-found';
import { requestLog } from './http/middleware/request-log';
import { captureRoutePattern } from './http/middleware/route-pattern';
import { buildOpenApiDocument } from './http/openapi';
import { mountRoutes } from './http/routes';
import { collectProcessMetrics } from './metrics';
import { opsRouter } from './modules/ops';

export type { AppDeps };

/** Builds the Express app without listening, so tests drive it with supertest. */
export function createApp(deps: AppDeps): Express {
  const { logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  collectProcessMetrics();

  // Route capture and metrics see every request; the request log gives every reply an X-Request-Id.
  app.use(captureRoutePattern);
  app.use(httpMetrics);
  app.use(requestLog(logger));

  // Probes and the Prometheus scraper stay outside /api and need no token.
  app.use(opsRouter(deps));

  // 1 MB bodies; larger ones and invalid JSON reach the error handler as 5003.
  app.use(express.json({ limit: '1mb' }));

  const openapi = buildOpenApiDocument();
  app.get('/api/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use('/api/docs', swaggerUi.serve, swaggerUi.setup(openapi));

  mountRoutes(app, deps);
  app.use(notFound);
  app.use(errorHandler);
  return app;
}

import express, { type Express } from 'express';
import swaggerUi from 'swagger-ui-express';
import { ok } from './http/envelope';
import type { AppDeps } from './http/deps';
import { errorHandler } from './http/middleware/error-handler';
import { notFound } from './http/middleware/not-found';
import { requestLog } from './http/middleware/request-log';
import { buildOpenApiDocument } from './http/openapi';
import { mountRoutes } from './http/routes';

export type { AppDeps };

/** Builds the Express app without listening, so tests drive it with supertest. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestLog(deps.logger));
  // 1 MB bodies; larger ones and invalid JSON reach the error handler as 5003.
  app.use(express.json({ limit: '1mb' }));

  const openapi = buildOpenApiDocument();
  app.get('/api/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use('/api/docs', swaggerUi.serve, swaggerUi.setup(openapi));
  app.get('/healthz', (_req, res) => {
    res.json(ok({ status: 'alive' }));
  });

  mountRoutes(app, deps);
  app.use(notFound);
  app.use(errorHandler);
  return app;
}

import express, { type Express } from 'express';
import swaggerUi from 'swagger-ui-express';
import { consoleRouter } from './http/console';
import type { AppDeps } from './http/deps';
import { requireBearerToken } from './http/middleware/auth';
import { errorHandler } from './http/middleware/error-handler';
import { httpMetrics } from './http/middleware/metrics';
import { notFound } from './http/middleware/not-found';
import { requestLog } from './http/middleware/request-log';
import { captureRoutePattern } from './http/middleware/route-pattern';
import { corsPolicy, docsSecurityHeaders, securityHeaders } from './http/middleware/security';
import { buildOpenApiDocument } from './http/openapi';
import { mountRoutes } from './http/routes';
import { collectProcessMetrics } from './metrics';
import { opsRouter } from './modules/ops';
import { webhooksRouter } from './modules/webhooks';

export type { AppDeps };

/** Builds the Express app without listening, so tests drive it with supertest. */
export function createApp(deps: AppDeps): Express {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  collectProcessMetrics();

  // Order matters: route capture and metrics see every request; the request log gives every reply
  // an X-Request-Id (refusals included); CORS answers preflights before authentication.
  app.use(captureRoutePattern);
  app.use(httpMetrics);
  app.use(requestLog(logger));
  app.use(securityHeaders());
  app.use(corsPolicy(config.corsOrigins));

  // Probes and the Prometheus scraper stay outside /api and need no token.
  app.use(opsRouter(deps));

  // The web console (static files, no token: it asks for one and sends it to /api itself).
  app.use(consoleRouter());

  // Registry webhooks carry their own shared secret (WEBHOOK_SECRET), not an API token: mounted before the /api check.
  app.use('/api/webhooks', webhooksRouter(deps));

  if (config.apiTokens.length > 0) {
    app.use('/api', requireBearerToken(config.apiTokens));
    if (config.apiTokens.some((t) => t.length < 16)) {
      logger.warn('an API token is shorter than 16 characters: use long random tokens (openssl rand -hex 32)');
    }
  } else {
    logger.warn('API_TOKENS is empty: every /api route is open to anyone who can reach the port');
  }

  // 1 MB bodies; larger ones and invalid JSON reach the error handler as 5003.
  app.use(express.json({ limit: '1mb' }));

  const openapi = buildOpenApiDocument();
  app.get('/api/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use(
    '/api/docs',
    docsSecurityHeaders(),
    swaggerUi.serve,
    // No validator badge: it would load an image from validator.swagger.io, which the CSP refuses.
    swaggerUi.setup(openapi, { swaggerOptions: { validatorUrl: null } }),
  );

  mountRoutes(app, deps);
  app.use(notFound);
  app.use(errorHandler);
  return app;
}

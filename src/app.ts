import express, { type Express } from 'express';
import swaggerUi from 'swagger-ui-express';
import { consoleRouter } from './http/console';
import type { AppDeps } from './http/deps';
import { isLoopbackHost, requireApiToken, tokenId } from './http/middleware/auth';
import { errorHandler } from './http/middleware/error-handler';
import { jsonBody } from './http/middleware/json-body';
import { httpMetrics } from './http/middleware/metrics';
import { notFound } from './http/middleware/not-found';
import { rateLimits } from './http/middleware/rate-limit';
import { requestLog } from './http/middleware/request-log';
import { captureRoutePattern } from './http/middleware/route-pattern';
import { corsPolicy, docsSecurityHeaders, securityHeaders } from './http/middleware/security';
import { buildOpenApiDocument } from './http/openapi';
import { mountRoutes } from './http/routes';
import { collectProcessMetrics } from './metrics';
import { databaseGate, opsRouter } from './modules/ops';
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
  app.use('/api/webhooks', databaseGate(), webhooksRouter(deps));

  const tokens = { full: config.apiTokens, read: config.apiReadTokens };
  if (tokens.full.length + tokens.read.length > 0) {
    app.use('/api', requireApiToken(tokens));
    // Named by a short hash, so an operator can tell which token a request line used.
    logger.info(
      { full: tokens.full.map(tokenId), read: tokens.read.map(tokenId) },
      tokens.full.length
        ? 'API tokens configured'
        : 'only API_READ_TOKENS configured: every write through /api is refused',
    );
    if ([...tokens.full, ...tokens.read].some((t) => t.length < 16)) {
      logger.warn('an API token is shorter than 16 characters: use long random tokens (openssl rand -hex 32)');
    }
  } else if (!isLoopbackHost(config.host)) {
    logger.warn(
      `API_TOKENS is empty and HOST=${config.host} is not a loopback address: every /api route, writes included, is open to anyone who can reach port ${config.port}; set API_TOKENS`,
    );
  }
  // While the database is known to be away, /api answers 5005 at once (after the token check).
  app.use('/api', databaseGate());

  // Per-client write and scan limits (5008/429 with Retry-After), after the token check so the token
  // names the client, and before bodies are parsed so a refused request costs little.
  const limits = rateLimits(config.rateLimit);
  if (limits.length > 0) app.use('/api', ...limits);

  // 1 MB bodies, at most 32 levels deep; larger, deeper or undecodable ones and invalid JSON get 5003.
  app.use(jsonBody('1mb'));

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

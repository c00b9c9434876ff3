import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../../logger';
import { matchedRoute, pathOf } from './route-pattern';

// A client-sent id is reused only when it is short and plain, so it cannot forge log lines.
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** One log line per request with id, method, route, status and duration; echoes X-Request-Id. */
export function requestLog(logger: Logger) {
  return pinoHttp({
    logger,
    quietReqLogger: true,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const sent = req.headers['x-request-id'];
      const id = typeof sent === 'string' && SAFE_ID.test(sent) ? sent : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customLogLevel(_req, res, err) {
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return 'info';
    },
    customSuccessMessage(req, res, responseTime) {
      return `${req.method} ${routeOf(req)} ${res.statusCode} ${Math.round(responseTime)}ms`;
    },
    customErrorMessage(req, res) {
      return `${req.method} ${routeOf(req)} ${res.statusCode} failed`;
    },
    serializers: {
      req: (req: { id: string; method: string; url: string; raw?: IncomingMessage }) => ({
        id: req.id,
        method: req.method,
        url: req.url,
        route: req.raw ? routeOf(req.raw) : undefined,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
}

/** The matched Express route pattern (e.g. /api/score), else the path without its query. */
export function routeOf(req: IncomingMessage): string {
  return matchedRoute(req) ?? pathOf(req);
}

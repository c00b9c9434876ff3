import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import { AppError } from '../../errors/app-error';
import type { Logger } from '../../logger';
import { matchedRoute, pathOf } from './route-pattern';

// A client-sent id is reused only when it is short and plain, so it cannot forge log lines.
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * One log line per request with id, method, route, status and duration; echoes X-Request-Id.
 * Never logs headers, bodies or query values: they carry tokens and registry passwords.
 */
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
        url: redactQuery(req.url),
        route: req.raw ? routeOf(req.raw) : undefined,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      err: serializeError,
    },
  });
}

/**
 * A client error (4xx) is logged as its code and our own message only: its cause can quote the
 * request (JSON.parse quotes the bad body, which may hold a password) and its stack says nothing
 * about a server fault. Server errors keep the full stack and causes.
 */
function serializeError(serialized: unknown): unknown {
  // pino-http hands custom serializers pino's own serialization, which keeps the error as `raw`.
  const raw = (serialized as { raw?: unknown } | null)?.raw;
  if (raw instanceof AppError && raw.httpStatus < 500) {
    return { type: raw.name, code: raw.code, message: raw.message };
  }
  return serialized;
}

/** The URL with every query value replaced, keeping the keys: `?token=[redacted]&page=[redacted]`. */
export function redactQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const keys = url
    .slice(q + 1)
    .split('&')
    .filter(Boolean)
    .map((pair) => `${pair.split('=')[0]}=[redacted]`);
  return `${url.slice(0, q)}?${keys.join('&')}`;
}

/** The matched Express route pattern (e.g. /api/score), else the path without its query. */
export function routeOf(req: IncomingMessage): string {
  return matchedRoute(req) ?? pathOf(req);
}

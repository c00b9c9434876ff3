import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';

const MATCHED = Symbol('vulnscan.matchedRoute');

type RoutedRequest = IncomingMessage & {
  baseUrl?: string;
  originalUrl?: string;
  route?: { path?: unknown };
  [MATCHED]?: string;
};

/**
 * Records the full route pattern (`/api/score`, `/api/scanner/:id`) at the moment Express matches a
 * route. Reading `req.baseUrl + req.route.path` afterwards is wrong: when a handler fails, the
 * router restores `baseUrl` of the parent before the error handler runs, so `/api/score` would read
 * as `/`. Registered first, it wraps `req.route` in an accessor that Express's own assignment hits.
 */
export const captureRoutePattern: RequestHandler = (req, _res, next) => {
  const r = req as unknown as RoutedRequest;
  let route: RoutedRequest['route'];
  Object.defineProperty(r, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set(value: RoutedRequest['route']) {
      route = value;
      if (value?.path !== undefined) r[MATCHED] = joinPattern(r.baseUrl ?? '', String(value.path));
    },
  });
  next();
};

function joinPattern(base: string, path: string): string {
  const full = `${base}${path === '/' && base ? '' : path}`;
  return full.length > 1 && full.endsWith('/') ? full.slice(0, -1) : full || '/';
}

/** The matched route pattern, or undefined when no route answered (404, auth refusal, static files). */
export function matchedRoute(req: IncomingMessage): string | undefined {
  return (req as RoutedRequest)[MATCHED];
}

/** The path of the request without its query string (which may carry secrets). */
export function pathOf(req: IncomingMessage): string {
  const r = req as RoutedRequest;
  return (r.originalUrl ?? r.url ?? '').split('?')[0];
}

import cors from 'cors';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Security headers for every reply. The API only sends JSON (and /metrics text), so the content
 * security policy forbids everything a browser could load from it.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
  });
}

/**
 * The policy of Swagger UI at /api/docs, replacing the API's: its page loads its own scripts, inline
 * styles and data: images, and fetches /api/openapi.json. `upgrade-insecure-requests` (in helmet's
 * defaults) is left out on purpose: the service is usually reached over plain HTTP on a LAN address,
 * where upgrading the page's assets to https would leave Swagger UI blank.
 */
export function docsSecurityHeaders(): RequestHandler {
  return helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      frameAncestors: ["'self'"],
      formAction: ["'self'"],
    },
  });
}

/**
 * CORS for the web console: only the configured origins (none when the list is empty), with the
 * headers a browser script may read. Preflight requests are answered here, before authentication,
 * because browsers send them without credentials.
 */
export function corsPolicy(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return cors({
    // `false` makes cors skip the request entirely: a refused origin gets no CORS header at all.
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    exposedHeaders: ['X-Total-Count', 'X-Request-Id'],
    maxAge: 600,
  });
}

/**
 * The policy of the web console at `/`, replacing the API's: the built app loads its own scripts and
 * styles ('self' only: no inline script or style element, no eval), talks to the API on the same
 * origin, and may not be framed. React sets styles through the CSSOM, which style-src does not govern.
 * `data:` images cover the empty favicon. As for /api/docs, no upgrade-insecure-requests.
 */
export function consoleSecurityHeaders(): RequestHandler {
  return helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'"],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
    },
  });
}

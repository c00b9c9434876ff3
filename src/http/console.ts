import path from 'node:path';
import express, { Router } from 'express';
import { consoleSecurityHeaders } from './middleware/security';

/**
 * Where `npm run build:web` puts the console: dist/console. Resolved from this file's folder's
 * parent, so it is the same from dist/http (the built server) and from src/http (tests under ts-jest).
 */
export const CONSOLE_DIR = path.resolve(__dirname, '..', '..', 'dist', 'console');

/** Paths that are never the console, even when nothing else answered them. */
const NOT_CONSOLE = /^\/(?:api(?:\/|$)|healthz$|readyz$|metrics$)/;

const NOT_BUILT =
  'The web console is not built. Run "npm run build" (server and console) or "npm run build:web" ' +
  '(console only; npm start does it for you), then reload. The API under /api works without it.\n';

/**
 * Serves the built console at `/`: hashed assets with a long cache, and index.html for every other
 * GET outside /api, /healthz, /readyz and /metrics (client-side routes such as /registries). When the
 * build is missing, `/` says how to build it (503) instead of failing.
 */
export function consoleRouter(dir: string = CONSOLE_DIR): Router {
  const router = Router();
  const index = path.join(dir, 'index.html');
  router.use((req, _res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || NOT_CONSOLE.test(req.path)) return next('router');
    next();
  });
  router.use(consoleSecurityHeaders());
  // File names carry a content hash: cache for a year. A missing asset is a 404, never index.html.
  router.use(
    '/assets',
    express.static(path.join(dir, 'assets'), { index: false, immutable: true, maxAge: '1y' }),
    (_req, res) => {
      res.status(404).type('text/plain; charset=utf-8').send('no such console asset\n');
    },
  );
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index, (err?: Error & { code?: string; statusCode?: number }) => {
      if (!err) return;
      if (err.code === 'ENOENT' && !res.headersSent) {
        res.status(503).type('text/plain; charset=utf-8').send(NOT_BUILT);
        return;
      }
      next(err);
    });
  });
  return router;
}

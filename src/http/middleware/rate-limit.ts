import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { RateLimitError } from '../../errors/app-error';

/**
 * POSTs that only read (list and search bodies): not writes, so outside the write limit. Paths are
 * relative to the /api mount.
 */
const READ_ONLY_POSTS = new Set(['/scanner', '/scanner/image', '/vulnerabilities']);
const SCAN_PATH = '/scanner/scan';
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Who a request counts against: the token (a short SHA-256 of it, never the token itself) when one
 * is sent, else the client address (IPv6 by /56, so one host cannot rotate through its prefix).
 */
export function clientKey(req: Request): string {
  const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  if (m) return `token:${createHash('sha256').update(m[1], 'utf8').digest('hex').slice(0, 16)}`;
  return `ip:${ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown')}`;
}

const pathOf = (req: Request): string => req.path.replace(/\/+$/, '') || '/';

function limiter(limit: number, windowMs: number, what: string, applies: (req: Request) => boolean): RequestHandler {
  return rateLimit({
    windowMs,
    limit,
    keyGenerator: clientKey,
    skip: (req) => !applies(req),
    // RateLimit and RateLimit-Policy (IETF draft 7) plus Retry-After on a refusal.
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    // `trust proxy` is off (app.ts): the socket address is the client; a forwarded header is not evidence.
    validate: { xForwardedForHeader: false },
    handler: (_req, res, next) => {
      const retry = res.getHeader('Retry-After');
      next(
        new RateLimitError(
          `too many ${what}: at most ${limit} per ${Math.round(windowMs / 1000)} s per client; retry after ${String(retry ?? Math.ceil(windowMs / 1000))} s`,
        ),
      );
    },
  });
}

export interface RateLimitSettings {
  windowMs: number;
  /** Writes per window per client; 0 turns the limit off. */
  writes: number;
  /** POST /api/scanner/scan per window per client; 0 turns the limit off. */
  scans: number;
}

/**
 * Per-client limits on /api (mounted there, after authentication so a token identifies the client):
 * writes (POST/PUT/PATCH/DELETE except the read-only list POSTs) and, stricter, scan triggers. Over a
 * limit: RateLimitError (5008, HTTP 429) with Retry-After. Counters live in this instance's memory.
 */
export function rateLimits(s: RateLimitSettings): RequestHandler[] {
  const out: RequestHandler[] = [];
  if (s.scans > 0)
    out.push(
      limiter(s.scans, s.windowMs, 'scan requests', (req) => req.method === 'POST' && pathOf(req) === SCAN_PATH),
    );
  if (s.writes > 0)
    out.push(
      limiter(s.writes, s.windowMs, 'write requests', (req) => {
        if (!WRITE_METHODS.has(req.method)) return false;
        const p = pathOf(req);
        return !(req.method === 'POST' && (READ_ONLY_POSTS.has(p) || p === SCAN_PATH));
      }),
    );
  return out;
}

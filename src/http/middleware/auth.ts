import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { RequestHandler } from 'express';
import { AuthError, ForbiddenError } from '../../errors/app-error';
import type { Logger } from '../../logger';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** How logs name a token: the first 8 hex digits of its SHA-256, never the token. */
export function tokenId(token: string): string {
  return digest(token).toString('hex').slice(0, 8);
}

/** What a token may do: `full` (API_TOKENS) everything, `read` (API_READ_TOKENS) only reads. */
export type TokenRole = 'full' | 'read';

export interface ApiTokens {
  full: readonly string[];
  read: readonly string[];
}

/**
 * The POST endpoints under /api that only read: list and search bodies too large or structured for a
 * query string. Paths are relative to /api, lower-cased, without a trailing slash (Express routes are
 * case-insensitive and not strict, so these are exactly the paths that reach those handlers).
 */
export const READ_POSTS: ReadonlySet<string> = new Set([
  '/scanner', // image list
  '/scanner/image', // findings of one image
  '/vulnerabilities', // unique CVEs
]);

/** True for a request a read-only token may make: GET, HEAD, OPTIONS, and the POSTs of READ_POSTS. */
export function isReadRequest(method: string, path: string): boolean {
  const m = method.toUpperCase();
  if (m === 'GET' || m === 'HEAD' || m === 'OPTIONS') return true;
  if (m !== 'POST') return false;
  const p = path.toLowerCase().replace(/\/+$/, '') || '/';
  return READ_POSTS.has(p);
}

/** True when `host` (the HOST the service binds) reaches only this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** `WWW-Authenticate` value for a refusal (RFC 6750 §3: no error code when no token was sent). */
function challenge(error?: 'invalid_request' | 'invalid_token' | 'insufficient_scope'): string {
  return error ? `Bearer realm="vulnscan", error="${error}"` : 'Bearer realm="vulnscan"';
}

/**
 * Requires `Authorization: Bearer <token>` with a token of `tokens.full` or `tokens.read`; otherwise
 * AuthError (5007, HTTP 401) and a `WWW-Authenticate: Bearer` header. A read token may only read
 * (isReadRequest); anything else is ForbiddenError (5007, HTTP 403) saying the token is read-only.
 * Tokens are compared as SHA-256 digests with timingSafeEqual, against every configured token of both
 * roles, so neither the content, the length nor the role of a token leaks through response timing.
 * The request's logger names the token by tokenId() from here on.
 */
export function requireApiToken(tokens: ApiTokens): RequestHandler {
  const expected = [
    ...tokens.full.map((t) => ({ digest: digest(t), role: 'full' as TokenRole, id: tokenId(t) })),
    ...tokens.read.map((t) => ({ digest: digest(t), role: 'read' as TokenRole, id: tokenId(t) })),
  ];
  return (req, res, next) => {
    const header = req.headers.authorization;
    if (!header) {
      res.setHeader('WWW-Authenticate', challenge());
      return next(new AuthError('missing bearer token: send "Authorization: Bearer <token>"'));
    }
    const m = /^Bearer +([^\s]+) *$/i.exec(header);
    if (!m) {
      res.setHeader('WWW-Authenticate', challenge('invalid_request'));
      return next(new AuthError('the Authorization header must be "Bearer <token>"'));
    }
    const given = digest(m[1]);
    let match: (typeof expected)[number] | undefined;
    for (const e of expected) if (timingSafeEqual(given, e.digest) && !match) match = e;
    if (!match) {
      res.setHeader('WWW-Authenticate', challenge('invalid_token'));
      return next(new AuthError('invalid bearer token'));
    }
    const log = (req as { log?: Logger }).log;
    if (log) (req as unknown as { log: Logger }).log = log.child({ tokenId: match.id, role: match.role });
    res.locals.token = { id: match.id, role: match.role };
    if (match.role === 'read' && !isReadRequest(req.method, req.path)) {
      res.setHeader('WWW-Authenticate', challenge('insufficient_scope'));
      return next(
        new ForbiddenError(
          `this token is read-only (API_READ_TOKENS): ${req.method} ${req.baseUrl}${req.path} needs a token from API_TOKENS`,
        ),
      );
    }
    next();
  };
}

/** Full rights for every token of `tokens` (API_TOKENS alone); kept for callers that know no roles. */
export function requireBearerToken(tokens: readonly string[]): RequestHandler {
  return requireApiToken({ full: tokens, read: [] });
}

/**
 * Guards a webhook with a shared secret: `Authorization: Bearer <secret>` or the bare secret (Harbor's
 * "auth header" and distribution's endpoint `headers` send a fixed value). Compared as SHA-256 digests
 * with timingSafeEqual. Without a configured secret the route is disabled: every call gets AuthError
 * (5007/401), so a webhook is never open by default.
 */
export function requireSharedSecret(secret: string | undefined, what: string): RequestHandler {
  const expected = secret ? digest(secret) : null;
  return (req, _res, next) => {
    if (!expected) return next(new AuthError(`${what} is disabled: set WEBHOOK_SECRET to enable it`));
    const header = req.headers.authorization?.trim();
    if (!header) return next(new AuthError(`${what} needs "Authorization: Bearer <WEBHOOK_SECRET>"`));
    const given = digest(header.replace(/^Bearer +/i, ''));
    if (!timingSafeEqual(given, expected)) return next(new AuthError(`${what}: wrong secret`));
    next();
  };
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AuthError } from '../../errors/app-error';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** `WWW-Authenticate` value for a refusal (RFC 6750 §3: no error code when no token was sent). */
function challenge(error?: 'invalid_request' | 'invalid_token'): string {
  return error ? `Bearer realm="vulnscan", error="${error}"` : 'Bearer realm="vulnscan"';
}

/**
 * Requires `Authorization: Bearer <token>` with one of `tokens`; otherwise AuthError (5007, HTTP 401)
 * and a `WWW-Authenticate: Bearer` header. Tokens are compared as SHA-256 digests with
 * timingSafeEqual, against every configured token, so neither the content nor the length of a token
 * leaks through response timing.
 */
export function requireBearerToken(tokens: readonly string[]): RequestHandler {
  const expected = tokens.map(digest);
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
    let valid = false;
    for (const e of expected) valid = timingSafeEqual(given, e) || valid;
    if (!valid) {
      res.setHeader('WWW-Authenticate', challenge('invalid_token'));
      return next(new AuthError('invalid bearer token'));
    }
    next();
  };
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

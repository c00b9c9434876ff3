import { createHmac } from 'node:crypto';

export interface ClairPsk {
  /** The shared secret, base64 (std encoding) exactly as in Clair's `auth.psk.key`. */
  key: string;
  /** One of Clair's `auth.psk.iss` issuers. */
  issuer: string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * A compact HS256 JWT for Clair's PSK authentication, signed with the base64-decoded key. Like
 * Clair's own signer: iat = now, nbf = now − 60 s, exp = now + 60 s (Clair allows 15 s of leeway).
 */
export function signClairJwt(psk: ClairPsk, nowMs: number = Date.now()): string {
  const now = Math.floor(nowMs / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ iss: psk.issuer, iat: now, nbf: now - 60, exp: now + 60 }));
  const signature = createHmac('sha256', Buffer.from(psk.key, 'base64'))
    .update(`${header}.${payload}`)
    .digest('base64url');
  return `${header}.${payload}.${signature}`;
}

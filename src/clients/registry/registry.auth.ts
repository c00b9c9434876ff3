/** Authentication helpers for the registry client: challenge parsing, Basic headers, a token cache. */

export interface Challenge {
  /** Lower-cased scheme: `bearer`, `basic`, … */
  scheme: string;
  params: Record<string, string>;
}

// key=value or key="quoted, value with \"escapes\"" (RFC 7235 auth-param).
const PARAM = /\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?/y;

/**
 * Parses a `WWW-Authenticate` header into its first challenge. Quoted values may hold commas and
 * spaces (a `scope` with several space-separated scopes). Returns null for an empty header.
 */
export function parseChallenge(header: string | string[] | undefined): Challenge | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return null;
  const m = /^\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)/.exec(value);
  if (!m) return null;
  const params: Record<string, string> = {};
  PARAM.lastIndex = m[0].length;
  for (;;) {
    const start = PARAM.lastIndex;
    const p = PARAM.exec(value);
    if (!p || PARAM.lastIndex === start) break;
    const key = p[1].toLowerCase();
    // Only the first challenge counts: a second scheme ("…, Basic realm=x") ends the parameters.
    if (!(key in params)) params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: m[1].toLowerCase(), params };
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Bearer tokens per (realm, service, scope set) until they expire. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();

  static keyOf(realm: string, service: string, scopes: readonly string[]): string {
    return [realm, service, ...[...new Set(scopes)].sort()].join('\n');
  }

  /** A cached token still valid for at least `minValidityMs`, else undefined. */
  get(key: string, minValidityMs: number, now = Date.now()): CachedToken | undefined {
    const t = this.tokens.get(key);
    if (!t) return undefined;
    if (t.expiresAt - now < minValidityMs) return undefined;
    return t;
  }

  set(key: string, token: string, expiresInSeconds: number, now = Date.now()): CachedToken {
    const t = { token, expiresAt: now + expiresInSeconds * 1000 };
    this.tokens.set(key, t);
    return t;
  }

  delete(key: string): void {
    this.tokens.delete(key);
  }
}

/**
 * May the registry's Basic credentials go to this token realm? Only over https, or to the registry's
 * own host under the registry's own scheme (distribution's token server next to it). A realm is named by
 * the registry's reply, so without this rule any registry (or whoever edits its host) could send the
 * password anywhere, in clear text too.
 */
export function realmMayReceiveCredentials(realm: URL, registryBase: URL): boolean {
  if (realm.protocol === 'https:') return true;
  return realm.hostname === registryBase.hostname && realm.protocol === registryBase.protocol;
}

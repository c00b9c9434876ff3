import { isIP } from 'node:net';

/**
 * Where each stored secret of a registry is sent, as origins (scheme://host:port). A secret belongs
 * to the origins it was entered for: an update may move a registry only among them unless the secret
 * comes with it again (registries.service.ts refuses otherwise), so a person who may edit a registry
 * but does not know its password cannot point it at a server of their own and read the password there.
 */

/** The registry fields that decide where its secrets go. */
export interface OriginFields {
  repository: string;
  port: number;
  isHttps?: boolean | null;
  skipTlsVerify?: boolean | null;
  kind?: string | null;
  options?: unknown;
}

/** Kinds whose lister calls `options.apiUrl` with the registry's credentials (SWR: the password as token). */
const API_KINDS_WITH_CREDENTIALS = new Set(['harbor', 'bkrepo', 'swr']);

/**
 * `scheme://host:port`, with the default port written out, and ` (TLS unverified)` for https without
 * certificate checks: turning skipTlsVerify on is a change of where a secret may end up, like https → http.
 */
function label(scheme: 'http' | 'https', host: string, port: number, unverified: boolean): string {
  const h = isIP(host) === 6 ? `[${host}]` : host.toLowerCase();
  return `${scheme}://${h}:${port}${scheme === 'https' && unverified ? ' (TLS unverified)' : ''}`;
}

export function registryOrigin(r: OriginFields): string {
  return label(r.isHttps ? 'https' : 'http', r.repository, r.port, Boolean(r.skipTlsVerify));
}

/** The origin of `options.apiUrl` when the registry's kind sends credentials there; undefined otherwise. */
export function apiOrigin(r: OriginFields): string | undefined {
  if (!API_KINDS_WITH_CREDENTIALS.has(r.kind ?? 'registry')) return undefined;
  const apiUrl = (r.options as { apiUrl?: unknown } | undefined)?.apiUrl;
  if (typeof apiUrl !== 'string' || !apiUrl) return undefined;
  let u: URL;
  try {
    u = new URL(apiUrl);
  } catch {
    return undefined;
  }
  const scheme = u.protocol === 'https:' ? 'https' : 'http';
  const port = u.port ? Number(u.port) : scheme === 'https' ? 443 : 80;
  return label(scheme, u.hostname.replace(/^\[(.*)\]$/, '$1'), port, Boolean(r.skipTlsVerify));
}

/** Every origin the password (or Harbor robot secret) is sent to. */
export function passwordOrigins(r: OriginFields): string[] {
  const api = apiOrigin(r);
  return [...new Set([registryOrigin(r), ...(api ? [api] : [])])];
}

/** Every origin SWR's `options.token` is sent to. */
export function tokenOrigins(r: OriginFields): string[] {
  const api = apiOrigin(r);
  return api ? [api] : [];
}

/** Origins of `after` that `before` did not have: where an unchanged secret would newly be sent. */
export function addedOrigins(before: readonly string[], after: readonly string[]): string[] {
  return after.filter((o) => !before.includes(o));
}

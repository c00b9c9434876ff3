import { createHash } from 'node:crypto';
import type { AxiosError, AxiosInstance, AxiosResponse } from 'axios';
import type { z } from 'zod';
import { NotFoundError, RegistryError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import type { Logger } from '../../logger';
import { registryErrorsCounter } from '../../metrics';
import { countErrors } from '../error-metrics';
import { egressDenial, outboundFor, type Outbound } from '../http/outbound';
import { basicAuthorization, parseChallenge, realmMayReceiveCredentials, TokenCache } from './registry.auth';
import {
  CatalogReply,
  ImageConfigBody,
  ImageIndexBody,
  ImageManifestBody,
  TagsReply,
  TokenReply,
} from './registry.schemas';
import {
  UnsupportedMediaTypeError,
  type FetchedManifest,
  type ImageConfig,
  type RegistryClient,
  type RegistryTarget,
} from './registry.types';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
const IMAGE_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
// Without the schema-2 types a Docker registry may rewrite the manifest to schema 1.
const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerList,
  MEDIA_TYPES.dockerManifest,
].join(', ');
const DEFAULT_TOKEN_SECONDS = 60;
// Cached tokens are refreshed when less than this remains, so a request never carries a token expiring in flight.
const TOKEN_REFRESH_MARGIN_MS = 10_000;
const PAGE_SIZE = 100;

export interface RegistryClientOptions {
  /** Timeout of every call (registry and token server). */
  timeoutMs: number;
  logger?: Logger;
  /** Page size asked of `_catalog` and `tags/list` (the registry may clamp it). */
  pageSize?: number;
  /** Keep connections open between calls (default true); one-off clients such as connection tests pass false. */
  keepAlive?: boolean;
  /** At most this many requests per second from this client, once its burst is spent (discovery walks whole registries); default unbounded. */
  maxRequestsPerSecond?: number;
  /**
   * Requests sent at full speed before `maxRequestsPerSecond` applies (a token bucket of this size,
   * refilled at that rate), so a small registry or an unchanged re-discovery is not slowed; default 1.
   */
  requestBurst?: number;
  /** Retries of a call answered 429 (default 3), each after its Retry-After, at most `maxRetryAfterMs` (default 30 s). */
  retries429?: number;
  maxRetryAfterMs?: number;
  /** The outbound layer (egress policy, caps); the default policy when absent. */
  outbound?: Outbound;
}

/** Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const h = header.trim();
  if (/^\d+$/.test(h)) return Number(h) * 1000;
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type AuthState =
  { kind: 'unknown' } | { kind: 'none' } | { kind: 'basic' } | { kind: 'bearer'; realm: string; service: string };

interface CallOptions {
  method?: 'GET' | 'HEAD';
  /** Absolute URL or a path on the registry. */
  url: string;
  scopes: string[];
  accept?: string;
  ctx: Ctx;
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

/** The URL without credentials or query secrets, for logs and error messages. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function headerOf(res: AxiosResponse, name: string): string | undefined {
  const v: unknown = res.headers[name.toLowerCase()];
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
  return typeof v === 'string' ? v : v == null ? undefined : String(v);
}

/** The `rel="next"` target of a Link header, resolved against the request URL. */
export function nextLink(link: string | undefined, requestUrl: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*(.*)$/.exec(part);
    if (m && /(?:^|;)\s*rel\s*=\s*"?next"?/i.test(m[2])) return new URL(m[1], requestUrl).toString();
  }
  return undefined;
}

/**
 * Turns a transport failure (DNS, refused, TLS, reset, timeout) into a RegistryError a person can act on.
 * `where` is the registry key, `url` the URL that failed (maybe the token server's).
 */
export function transportError(err: unknown, url: string, where: string, timeoutMs: number): RegistryError {
  const e = err as AxiosError & { code?: string };
  const code = e.code ?? (e.cause as { code?: string } | undefined)?.code;
  const msg = e.message ?? String(err);
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return where;
    }
  })();
  let reason: string;
  const denied = egressDenial(err);
  if (denied) reason = `refused to connect: ${denied.message}`;
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') reason = `cannot resolve host ${host.replace(/:\d+$/, '')}`;
  else if (code === 'ECONNREFUSED')
    reason = `connection refused by ${host} (is the registry running and the port right?)`;
  else if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED' || /timeout/i.test(msg))
    reason = `no answer from ${host} within ${timeoutMs} ms (timeout)`;
  else if (/size cap/.test(msg)) reason = `${host} sent a ${msg}`;
  else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') reason = `host ${host} is unreachable`;
  else if (
    url.startsWith('https:') &&
    (/wrong version number|packet length too long|http request/i.test(msg) || code === 'ERR_SSL_WRONG_VERSION_NUMBER')
  )
    reason = `TLS handshake failed: ${host} does not speak https on this port (set isHttps to false?)`;
  else if (code && TLS_CODES.has(code)) reason = `TLS handshake failed: ${msg} (self-signed? set skipTlsVerify)`;
  else if (url.startsWith('http:') && (code === 'ECONNRESET' || /socket hang up/i.test(msg)))
    reason = `${host} closed the connection on a plain http request (is it an https port? set isHttps to true)`;
  else if (code === 'ECONNRESET') reason = `${host} reset the connection`;
  else reason = `request to ${host} failed: ${code ?? msg}`;
  return new RegistryError(`registry ${where}: ${reason}`, { cause: err });
}

/**
 * Creates a Docker Registry HTTP API v2 client for one registry: open, htpasswd (Basic) or
 * bearer-token auth, learned from the registry's challenge. Every method throws RegistryError (5002)
 * with an actionable reason, or NotFoundError (5004) for an unknown repository, tag or digest.
 */
export function createRegistryClient(target: RegistryTarget, opts: RegistryClientOptions): RegistryClient {
  const scheme = target.isHttps ? 'https' : 'http';
  const hostPart = target.host.includes(':') ? `[${target.host}]` : target.host;
  const base = `${scheme}://${hostPart}:${target.port}`;
  const where = `${target.host}:${target.port}`;
  const pageSize = opts.pageSize ?? PAGE_SIZE;
  const tokens = new TokenCache();
  let auth: AuthState = { kind: 'unknown' };
  const retries429 = opts.retries429 ?? 3;
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? 30_000;
  const rate = opts.maxRequestsPerSecond ?? 0;
  const burst = Math.max(1, opts.requestBurst ?? 1);
  let budget = burst;
  let refilledAt = Date.now();

  /**
   * A token bucket of `burst` requests refilled at `rate` per second: each caller takes a token, and
   * when the bucket is empty it reserves the next one (the count goes below zero) and waits for it.
   */
  async function throttle(): Promise<void> {
    if (!rate) return;
    const now = Date.now();
    budget = Math.min(burst, budget + ((now - refilledAt) * rate) / 1000);
    refilledAt = now;
    budget -= 1;
    if (budget < 0) await sleep((-budget * 1000) / rate);
  }

  // Agents, egress policy, TLS, total deadline, 64 MiB reply cap and no proxy come from the outbound layer.
  const ax: AxiosInstance = (opts.outbound ?? outboundFor()).client(
    { timeoutMs: opts.timeoutMs, keepAlive: opts.keepAlive ?? true, skipTlsVerify: target.skipTlsVerify },
    {
      responseType: 'arraybuffer',
      // Statuses are checked per call; a 401 is part of the auth flow.
      validateStatus: () => true,
      maxRedirects: 5,
      headers: { 'User-Agent': 'vulnscan' },
    },
  );

  /**
   * One HTTP exchange at the client's rate, retried on 429 up to `retries429` times after the reply's
   * Retry-After (or 1 s, 2 s, 4 s … without one), each wait bounded by `maxRetryAfterMs`.
   */
  async function send(
    method: 'GET' | 'HEAD',
    url: string,
    headers: Record<string, string>,
    ctx: Ctx,
  ): Promise<AxiosResponse<Buffer>> {
    for (let attempt = 0; ; attempt++) {
      ctx.signal?.throwIfAborted();
      await throttle();
      ctx.signal?.throwIfAborted();
      const res = await sendOnce(method, url, headers, ctx);
      if (res.status !== 429 || attempt >= retries429) return res;
      const wait = Math.min(retryAfterMs(headerOf(res, 'retry-after')) ?? 1000 * 2 ** attempt, maxRetryAfterMs);
      ctx.log.warn(
        { registry: where, url: safeUrl(url), waitMs: wait, attempt: attempt + 1 },
        'registry answered 429; waiting as asked',
      );
      await sleep(wait);
    }
  }

  /** One HTTP exchange, logged once at debug (method, URL without credentials, status, duration). */
  async function sendOnce(
    method: 'GET' | 'HEAD',
    url: string,
    headers: Record<string, string>,
    ctx: Ctx,
  ): Promise<AxiosResponse<Buffer>> {
    const started = Date.now();
    const h = { ...headers };
    if (ctx.requestId) h['X-Request-Id'] = ctx.requestId;
    let res: AxiosResponse<Buffer>;
    try {
      const deadline = AbortSignal.timeout(opts.timeoutMs + 1000);
      const signal = ctx.signal ? AbortSignal.any([ctx.signal, deadline]) : deadline;
      res = await ax.request<Buffer>({ method, url, headers: h, signal });
    } catch (err) {
      // Cancelled by the caller (its lease was lost): its reason, not a registry failure.
      if (ctx.signal?.aborted) throw ctx.signal.reason;
      const e = transportError(err, url, where, opts.timeoutMs);
      (opts.logger ?? ctx.log).debug(
        { method, url: safeUrl(url), ms: Date.now() - started, error: e.message },
        'registry call failed',
      );
      throw e;
    }
    (opts.logger ?? ctx.log).debug(
      { method, url: safeUrl(url), status: res.status, ms: Date.now() - started },
      `registry ${method} ${safeUrl(url)} ${res.status}`,
    );
    if (!Buffer.isBuffer(res.data)) res.data = Buffer.from(res.data ?? '');
    // A Go (distribution) https server answers a plain http request with this 400.
    if (res.status === 400 && /HTTP request to an HTTPS server/i.test(res.data.toString('utf8', 0, 200))) {
      throw new RegistryError(`registry ${where}: this port speaks https, not http (set isHttps to true)`);
    }
    return res;
  }

  /** Requests a bearer token for `scopes` from the realm (Basic credentials when configured). */
  async function fetchToken(
    realm: string,
    service: string,
    scopes: string[],
    ctx: Ctx,
  ): Promise<{ token: string; expiresIn: number }> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch (err) {
      throw new RegistryError(`registry ${where}: its token realm "${realm}" is not a URL`, { cause: err });
    }
    if (target.credentials && !realmMayReceiveCredentials(url, new URL(base)))
      throw new RegistryError(
        `registry ${where}: its token realm ${url.origin} is neither https nor on the registry's own host and scheme; ` +
          'the credentials are not sent there',
        { reason: 'denied' },
      );
    if (service) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (target.credentials)
      headers.Authorization = basicAuthorization(target.credentials.username, target.credentials.password);
    const res = await send('GET', url.toString(), headers, ctx);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError(
        target.credentials
          ? `registry ${where}: the token server ${url.host} refused the credentials of user "${target.credentials.username}" (HTTP ${res.status}); check username and passwd`
          : `registry ${where}: the token server ${url.host} requires credentials (HTTP ${res.status}); set isAuth, username and passwd`,
      );
    }
    if (res.status !== 200)
      throw new RegistryError(`registry ${where}: the token server ${url.host} answered HTTP ${res.status}`);
    const body = parseJson(res, TokenReply, 'token server reply');
    return { token: (body.token ?? body.access_token)!, expiresIn: body.expires_in ?? DEFAULT_TOKEN_SECONDS };
  }

  async function bearerToken(
    state: { realm: string; service: string },
    scopes: string[],
    ctx: Ctx,
    minValidityMs = TOKEN_REFRESH_MARGIN_MS,
    force = false,
  ): Promise<string> {
    const key = TokenCache.keyOf(state.realm, state.service, scopes);
    const cached = force ? undefined : tokens.get(key, minValidityMs);
    if (cached) return cached.token;
    const t = await fetchToken(state.realm, state.service, [...new Set(scopes)].sort(), ctx);
    tokens.set(key, t.token, t.expiresIn);
    if (t.expiresIn * 1000 < minValidityMs) {
      ctx.log.warn(
        { registry: where, expiresIn: t.expiresIn },
        'registry tokens live shorter than the validity asked for',
      );
    }
    return t.token;
  }

  /** The Authorization header to send before any challenge, from what earlier calls learned. */
  async function preemptive(scopes: string[], ctx: Ctx): Promise<Record<string, string>> {
    if (auth.kind === 'basic' && target.credentials)
      return { Authorization: basicAuthorization(target.credentials.username, target.credentials.password) };
    if (auth.kind === 'bearer') return { Authorization: `Bearer ${await bearerToken(auth, scopes, ctx)}` };
    return {};
  }

  /** A call with authentication: answers a 401 challenge once (Basic or bearer token) and retries. */
  async function call(o: CallOptions): Promise<AxiosResponse<Buffer>> {
    const method = o.method ?? 'GET';
    const url = /^https?:\/\//.test(o.url) ? o.url : `${base}${o.url}`;
    const extra: Record<string, string> = o.accept ? { Accept: o.accept } : {};
    const sentBefore = await preemptive(o.scopes, o.ctx);
    let res = await send(method, url, { ...extra, ...sentBefore }, o.ctx);
    if (res.status !== 401) {
      if (auth.kind === 'unknown' && res.status < 400) auth = { kind: 'none' };
      return res;
    }
    const challenge = parseChallenge(res.headers['www-authenticate'] as string | undefined);
    if (challenge?.scheme === 'bearer') {
      const realm = challenge.params.realm;
      if (!realm) throw new RegistryError(`registry ${where}: asked for a bearer token without a realm`);
      auth = { kind: 'bearer', realm, service: challenge.params.service ?? '' };
      const asked = (challenge.params.scope ?? '').split(' ').filter(Boolean);
      const scopes = [...new Set([...o.scopes, ...asked])];
      const token = await bearerToken(auth, scopes, o.ctx, TOKEN_REFRESH_MARGIN_MS, Boolean(sentBefore.Authorization));
      res = await send(method, url, { ...extra, Authorization: `Bearer ${token}` }, o.ctx);
      if (res.status === 401 || res.status === 403) {
        tokens.delete(TokenCache.keyOf(auth.realm, auth.service, scopes));
        throw new RegistryError(
          `registry ${where}: the token for ${scopes.join(' ') || 'the registry'} was refused (HTTP ${res.status}); ` +
            (target.credentials
              ? `user "${target.credentials.username}" may lack access`
              : 'set isAuth, username and passwd'),
        );
      }
      return res;
    }
    if (challenge?.scheme === 'basic') {
      auth = { kind: 'basic' };
      if (!target.credentials)
        throw new RegistryError(
          `registry ${where}: requires a user name and password (set isAuth, username and passwd)`,
        );
      if (sentBefore.Authorization) throw badCredentials();
      res = await send(method, url, { ...extra, ...(await preemptive(o.scopes, o.ctx)) }, o.ctx);
      if (res.status === 401) throw badCredentials();
      return res;
    }
    throw new RegistryError(`registry ${where}: answered 401 without a usable WWW-Authenticate challenge`);
  }

  function badCredentials(): RegistryError {
    return new RegistryError(
      `registry ${where}: refused the credentials of user "${target.credentials?.username ?? ''}" (HTTP 401); check username and passwd`,
    );
  }

  function parseJson<S extends z.ZodType>(res: AxiosResponse<Buffer>, schema: S, what: string): z.infer<S> {
    let json: unknown;
    try {
      json = JSON.parse(res.data.toString('utf8'));
    } catch (err) {
      throw new RegistryError(`registry ${where}: ${what} is not JSON`, { cause: err });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
      throw new RegistryError(`registry ${where}: unexpected ${what} (${why})`, { cause: parsed.error });
    }
    return parsed.data;
  }

  /** Maps a non-2xx reply of a read to NotFoundError or RegistryError. */
  function failure(res: AxiosResponse<Buffer>, what: string): Error {
    let codes = '';
    try {
      const body = JSON.parse(res.data.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> };
      codes = (body.errors ?? []).map((e) => `${e.code ?? 'UNKNOWN'}${e.message ? `: ${e.message}` : ''}`).join('; ');
    } catch {
      // not JSON: the status says enough
    }
    const detail = codes ? ` (${codes})` : '';
    if (res.status === 404) return new NotFoundError(`registry ${where}: ${what} not found${detail}`);
    if (res.status === 403) return new RegistryError(`registry ${where}: access to ${what} denied (HTTP 403)${detail}`);
    if (res.status === 429)
      return new RegistryError(
        `registry ${where}: still answering 429 (too many requests) after ${retries429} retries; try again later`,
      );
    return new RegistryError(`registry ${where}: ${what} answered HTTP ${res.status}${detail}`);
  }

  async function* paged<T>(
    first: string,
    scopes: string[],
    schema: z.ZodType<T>,
    items: (body: T) => readonly string[] | null | undefined,
    what: string,
    ctx: Ctx,
  ): AsyncIterable<string> {
    let url: string | undefined = `${base}${first}`;
    const seen = new Set<string>();
    while (url) {
      if (seen.has(url)) throw new RegistryError(`registry ${where}: ${what} paging loops on ${safeUrl(url)}`);
      seen.add(url);
      const res = await call({ url, scopes, ctx });
      if (res.status !== 200) throw failure(res, what);
      for (const item of items(parseJson(res, schema, what)) ?? []) yield item;
      url = nextLink(headerOf(res, 'link'), url);
      // The next page is fetched with the registry's credentials: it must stay on the registry's origin.
      if (url && new URL(url).origin !== new URL(base).origin)
        throw new RegistryError(
          `registry ${where}: the ${what} paging link points to another origin (${new URL(url).origin}); not followed`,
          { reason: 'denied' },
        );
    }
  }

  const repoScope = (name: string) => [`repository:${name}:pull`];

  /** `GET /v2/` with the auth exchange; a 404 or an HTML page means this is not a registry. */
  async function ping(ctx: Ctx): Promise<void> {
    const res = await call({ url: '/v2/', scopes: [], ctx });
    if (res.status === 200) {
      const type = headerOf(res, 'content-type') ?? '';
      if (!headerOf(res, 'docker-distribution-api-version') && /text\/html/i.test(type))
        throw new RegistryError(`registry ${where}: answered an HTML page on /v2/; this is not a Docker registry`);
      return;
    }
    if (res.status === 404)
      throw new RegistryError(
        `registry ${where}: answered 404 on /v2/; this is not a Docker registry (wrong host or port?)`,
      );
    if (res.status === 403) throw new RegistryError(`registry ${where}: access denied on /v2/ (HTTP 403)`);
    throw new RegistryError(`registry ${where}: answered HTTP ${res.status} on /v2/; not a Docker Registry v2 API`);
  }

  const client: RegistryClient = {
    target,

    ping,

    listRepositories(ctx) {
      return paged(
        `/v2/_catalog?n=${pageSize}`,
        ['registry:catalog:*'],
        CatalogReply,
        (b) => b.repositories,
        'catalog',
        ctx,
      );
    },

    listTags(name, ctx) {
      return paged(
        `/v2/${name}/tags/list?n=${pageSize}`,
        repoScope(name),
        TagsReply,
        (b) => b.tags,
        `tags of ${name}`,
        ctx,
      );
    },

    async getManifest(name, reference, ctx): Promise<FetchedManifest> {
      const what = `manifest ${name}:${reference}`;
      const res = await call({
        url: `/v2/${name}/manifests/${reference}`,
        scopes: repoScope(name),
        accept: MANIFEST_ACCEPT,
        ctx,
      });
      if (res.status !== 200) throw failure(res, what);
      const digest = sha256(res.data);
      const announced = headerOf(res, 'docker-content-digest');
      if (announced && announced.startsWith('sha256:') && announced !== digest)
        throw new RegistryError(
          `registry ${where}: ${what} does not match its Docker-Content-Digest (${announced} announced, ${digest} received)`,
        );
      if (reference.includes(':') && reference !== digest)
        throw new RegistryError(`registry ${where}: ${what} does not match the requested digest (${digest} received)`);
      const contentType = (headerOf(res, 'content-type') ?? '').split(';')[0].trim();
      let raw: unknown;
      try {
        raw = JSON.parse(res.data.toString('utf8'));
      } catch (err) {
        throw new RegistryError(`registry ${where}: ${what} is not JSON`, { cause: err });
      }
      const bodyType = (raw as { mediaType?: unknown })?.mediaType;
      if (
        typeof bodyType === 'string' &&
        (INDEX_TYPES.has(contentType) || IMAGE_TYPES.has(contentType)) &&
        bodyType !== contentType
      )
        throw new RegistryError(
          `registry ${where}: ${what} says mediaType ${bodyType} but was served as ${contentType}`,
        );
      const mediaType =
        INDEX_TYPES.has(contentType) || IMAGE_TYPES.has(contentType)
          ? contentType
          : typeof bodyType === 'string'
            ? bodyType
            : contentType;
      const isIndex =
        INDEX_TYPES.has(mediaType) ||
        (!IMAGE_TYPES.has(mediaType) && Array.isArray((raw as { manifests?: unknown })?.manifests));
      if (!isIndex && !IMAGE_TYPES.has(mediaType) && !(raw as { config?: unknown })?.config)
        throw new UnsupportedMediaTypeError(`registry ${where}: ${what} has the unsupported media type "${mediaType}"`);
      const parse = <S extends z.ZodType>(schema: S): z.infer<S> => {
        const r = schema.safeParse(raw);
        if (!r.success) {
          const why = r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
          throw new RegistryError(`registry ${where}: unexpected ${what} (${why})`, { cause: r.error });
        }
        return r.data;
      };
      const manifest = isIndex
        ? { kind: 'index' as const, ...parse(ImageIndexBody) }
        : { kind: 'image' as const, ...parse(ImageManifestBody) };
      return { digest, mediaType, manifest };
    },

    async headManifest(name, reference, ctx): Promise<{ digest: string | null; mediaType: string | null }> {
      const res = await call({
        method: 'HEAD',
        url: `/v2/${name}/manifests/${reference}`,
        scopes: repoScope(name),
        accept: MANIFEST_ACCEPT,
        ctx,
      });
      if (res.status !== 200) throw failure(res, `manifest ${name}:${reference}`);
      const digest = headerOf(res, 'docker-content-digest');
      const type = headerOf(res, 'content-type');
      return {
        digest: digest && /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest) ? digest : null,
        mediaType: type ? type.split(';')[0]!.trim() : null,
      };
    },

    async getImageConfig(name, configDigest, ctx): Promise<ImageConfig> {
      const what = `config blob ${configDigest} of ${name}`;
      const res = await call({ url: `/v2/${name}/blobs/${configDigest}`, scopes: repoScope(name), ctx });
      if (res.status !== 200) throw failure(res, what);
      if (configDigest.startsWith('sha256:') && sha256(res.data) !== configDigest)
        throw new RegistryError(`registry ${where}: ${what} does not match its digest`);
      const c = parseJson(res, ImageConfigBody, what);
      return { os: c.os, architecture: c.architecture, variant: c.variant, created: c.created };
    },

    blobUrl(name, digest) {
      return `${base}/v2/${name}/blobs/${digest}`;
    },

    async pullHeaders(name, ctx, minValiditySeconds = 300): Promise<Record<string, string>> {
      if (auth.kind === 'unknown') await ping(ctx);
      const current = auth as AuthState;
      if (current.kind === 'basic' && target.credentials)
        return { Authorization: basicAuthorization(target.credentials.username, target.credentials.password) };
      if (current.kind === 'bearer')
        return {
          Authorization: `Bearer ${await bearerToken(current, repoScope(name), ctx, minValiditySeconds * 1000)}`,
        };
      return {};
    },
  };
  // Every failed call is counted in vulnscan_registry_errors_total; a 404 (NotFoundError) is an answer, not a failure.
  return countErrors(client, registryErrorsCounter, (e): e is RegistryError => e instanceof RegistryError);
}

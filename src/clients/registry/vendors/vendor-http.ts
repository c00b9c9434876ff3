import { type AxiosInstance, isAxiosError } from 'axios';
import type { z } from 'zod';
import { RegistryError } from '../../../errors/app-error';
import type { Ctx } from '../../../http/context';
import { egressDenial, outboundFor, type Outbound } from '../../http/outbound';
import type { RegistryTarget } from '../registry.types';

/** Politeness limits shared by every lister; all bounded so one scan cannot hammer a vendor. */
export interface Politeness {
  maxRequestsPerSecond: number;
  /** Retries after a 429 before giving up. */
  maxRetries: number;
  /** Longest Retry-After honoured; a longer one is cut to this. */
  maxRetryAfterMs: number;
}

export const DEFAULT_POLITENESS: Politeness = { maxRequestsPerSecond: 10, maxRetries: 3, maxRetryAfterMs: 30_000 };

export interface VendorHttpOptions {
  /** Human name used in error messages ("Harbor", "Huawei SWR", "bk-repo", "Docker Hub"). */
  vendor: string;
  baseURL: string;
  timeoutMs: number;
  headers?: Record<string, string>;
  auth?: { username: string; password: string };
  politeness: Politeness;
  /** Pulls the vendor's own error text out of an error body. */
  errorText: (body: unknown) => string | undefined;
  /** The outbound layer (egress policy, caps); the default policy when absent. */
  outbound?: Outbound;
  /** Accept any certificate: the registry's skipTlsVerify, honoured for its vendor API too. */
  skipTlsVerify?: boolean;
}

export interface VendorReply<T> {
  data: T;
  headers: Record<string, string | undefined>;
}

/** GET with one axios instance, a rate cap, bounded 429 retries and errors turned into RegistryError. */
export interface VendorHttp {
  readonly baseURL: string;
  /** `what` names the expected reply for error messages, e.g. "a repository list". */
  get<T>(ctx: Ctx, url: string, schema: z.ZodType<T>, what: string): Promise<VendorReply<T>>;
}

export function originOf(target: RegistryTarget): string {
  return `${target.isHttps ? 'https' : 'http'}://${target.host}:${target.port}`;
}

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, String(v));
  return q.toString();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'unexpected shape';
  const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
  return `${path}: ${issue.message}`;
}

export function createVendorHttp(opts: VendorHttpOptions): VendorHttp {
  const { vendor, politeness } = opts;
  const outbound = opts.outbound ?? outboundFor();
  // Agents, egress policy, TLS, total deadline, the JSON API reply cap and no proxy come from the outbound layer.
  const http: AxiosInstance = outbound.client(
    {
      timeoutMs: opts.timeoutMs,
      skipTlsVerify: opts.skipTlsVerify,
      maxResponseBytes: outbound.settings.maxApiResponseBytes,
    },
    {
      baseURL: opts.baseURL,
      headers: { Accept: 'application/json', ...opts.headers },
      auth: opts.auth,
      // Statuses are checked below, per call.
      validateStatus: () => true,
      maxRedirects: 0,
    },
  );
  const interval = 1000 / politeness.maxRequestsPerSecond;
  let nextSlot = 0;

  async function throttle(): Promise<void> {
    const now = Date.now();
    const slot = Math.max(now, nextSlot);
    nextSlot = slot + interval;
    if (slot > now) await sleep(slot - now);
  }

  function transportError(e: unknown, url: string): RegistryError {
    const where = `${opts.baseURL}`;
    const denied = egressDenial(e);
    if (denied) return new RegistryError(`${vendor} at ${where}: refused to connect: ${denied.message}`, { cause: e });
    if (isAxiosError(e)) {
      const code = e.code ?? '';
      if (code === 'ECONNREFUSED')
        return new RegistryError(`${vendor} refused the connection at ${where}`, { cause: e });
      if (code === 'ECONNABORTED' || code === 'ETIMEDOUT')
        return new RegistryError(`${vendor} did not answer GET ${url} within ${opts.timeoutMs} ms`, { cause: e });
      if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
        return new RegistryError(`${vendor} host of ${where} cannot be resolved`, { cause: e });
      if (/size cap/.test(e.message))
        return new RegistryError(`${vendor} at ${where} sent a ${e.message} to GET ${url}`, { cause: e });
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code))
        return new RegistryError(
          `${vendor} at ${where}: TLS verification failed (${code}); self-signed? set skipTlsVerify`,
          {
            cause: e,
          },
        );
      return new RegistryError(`${vendor} at ${where} could not be reached (${code || e.message})`, { cause: e });
    }
    return new RegistryError(`${vendor} at ${where} could not be reached`, { cause: e });
  }

  return {
    baseURL: opts.baseURL,
    async get<T>(ctx: Ctx, url: string, schema: z.ZodType<T>, what: string): Promise<VendorReply<T>> {
      for (let attempt = 0; ; attempt++) {
        ctx.signal?.throwIfAborted();
        await throttle();
        const started = Date.now();
        let res;
        try {
          res = await http.get<unknown>(url, {
            headers: ctx.requestId ? { 'X-Request-Id': ctx.requestId } : {},
            ...(ctx.signal ? { signal: ctx.signal } : {}),
          });
        } catch (e) {
          if (ctx.signal?.aborted) throw ctx.signal.reason;
          throw transportError(e, url);
        }
        ctx.log.debug({ vendor, url, status: res.status, ms: Date.now() - started }, 'vendor list call');
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(res.headers ?? {}))
          headers[k.toLowerCase()] = v == null ? undefined : String(v);

        if (res.status === 429 && attempt < politeness.maxRetries) {
          const wait = Math.min(
            retryAfterMs(headers['retry-after']) ?? 1000 * 2 ** attempt,
            politeness.maxRetryAfterMs,
          );
          ctx.log.warn({ vendor, url, waitMs: wait, attempt: attempt + 1 }, 'vendor rate limit, waiting');
          await sleep(wait);
          continue;
        }
        if (res.status !== 200) {
          const text = safeText(opts.errorText, res.data);
          const suffix = text ? `: ${text}` : '';
          if (res.status === 401 || res.status === 403)
            throw new RegistryError(`${vendor} refused the credentials (${res.status})${suffix}`);
          if (res.status === 429)
            throw new RegistryError(`${vendor} kept answering 429 (too many requests) to GET ${url}${suffix}`);
          throw new RegistryError(`${vendor} answered ${res.status} to GET ${url}${suffix}`);
        }
        const parsed = schema.safeParse(res.data);
        if (!parsed.success)
          throw new RegistryError(`${vendor} answered a reply that is not ${what}: ${firstIssue(parsed.error)}`, {
            cause: parsed.error,
          });
        return { data: parsed.data, headers };
      }
    },
  };
}

function safeText(extract: (b: unknown) => string | undefined, body: unknown): string | undefined {
  try {
    const t = extract(body);
    return t ? t.slice(0, 500) : undefined;
  } catch {
    return undefined;
  }
}

/** Basic credentials of the registry, when it has some. */
export function basicAuthOf(target: RegistryTarget): { username: string; password: string } | undefined {
  return target.credentials ? { ...target.credentials } : undefined;
}

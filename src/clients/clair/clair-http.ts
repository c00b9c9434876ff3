import { AxiosError, type AxiosInstance, type AxiosResponse, type Method } from 'axios';
import type { z } from 'zod';
import { ScannerError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import type { Logger } from '../../logger';
import { egressDenial, outboundFor, type Outbound } from '../http/outbound';
import { signClairJwt, type ClairPsk } from './clair-psk';

/** How often and how long to retry the answers Clair documents as transient (429, v2 500, v4 202). */
export interface RetryPolicy {
  /** Total tries of a call answered 429 (v4) or 500 (v2). */
  attempts: number;
  /** Total tries of the v4 vulnerability report while Clair answers 202 (no vulnerability data yet). */
  reportAttempts: number;
  /** First back-off delay; doubled per try. */
  baseDelayMs: number;
  /** Upper bound of one delay, also of a Retry-After the server asks for. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, reportAttempts: 6, baseDelayMs: 1000, maxDelayMs: 30_000 };

export interface ClairClientOptions {
  version: 'v4' | 'v2';
  /** e.g. http://127.0.0.1:6060 (no path). */
  baseUrl: string;
  /** Timeout of every call except indexing. */
  timeoutMs: number;
  /** Timeout of the blocking index call (v4 POST index_report, v2 POST layers): Clair fetches every layer first. */
  indexTimeoutMs: number;
  /** Clair v4 PSK authentication; a fresh HS256 JWT goes out with every request. */
  psk?: ClairPsk;
  /** Used when a call's ctx has no logger of its own. */
  logger?: Logger;
  retry?: Partial<RetryPolicy>;
  /** The outbound layer (egress policy, caps); the default policy when absent. */
  outbound?: Outbound;
}

export interface ClairCall {
  method: Method;
  path: string;
  /** What the call does, for error messages ("index image sha256:…"). */
  what: string;
  body?: unknown;
  timeoutMs?: number;
}

/** A reply whose status the caller checks; the body is the raw text (Clair v4.9 mislabels Content-Type). */
export interface ClairReply {
  status: number;
  body: string;
  headers: AxiosResponse['headers'];
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Back-off before try `attempt + 1` (attempt counts from 1): Retry-After when given, else exponential; bounded. */
export function retryDelayMs(attempt: number, policy: RetryPolicy, retryAfter?: unknown): number {
  if (typeof retryAfter === 'string' && retryAfter.trim()) {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
    if (Number.isFinite(ms)) return Math.min(Math.max(ms, 0), policy.maxDelayMs);
  }
  return Math.min(policy.baseDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
}

/**
 * One axios instance per client: keep-alive agents, explicit timeouts, no automatic status or JSON
 * handling. Translates every transport failure into a ScannerError naming Clair's URL.
 */
export class ClairHttp {
  readonly baseUrl: string;
  readonly retry: RetryPolicy;
  private readonly axios: AxiosInstance;

  constructor(private readonly opts: ClairClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    // Agents, egress policy, total deadline (per call: `timeout`), reply cap and no proxy come from the outbound layer.
    this.axios = (opts.outbound ?? outboundFor()).client(
      { timeoutMs: opts.timeoutMs },
      {
        baseURL: this.baseUrl,
        validateStatus: () => true,
        responseType: 'text',
        transformResponse: [(d: unknown) => d],
        maxRedirects: 0,
        headers: { Accept: 'application/json' },
      },
    );
  }

  log(ctx: Ctx): Logger | undefined {
    return ctx.log ?? this.opts.logger;
  }

  async call(ctx: Ctx, c: ClairCall): Promise<ClairReply> {
    const headers: Record<string, string> = {};
    if (this.opts.psk) headers.Authorization = `Bearer ${signClairJwt(this.opts.psk)}`;
    if (ctx.requestId) headers['X-Request-Id'] = ctx.requestId;
    const timeout = c.timeoutMs ?? this.opts.timeoutMs;
    const started = Date.now();
    let res: AxiosResponse<string>;
    try {
      res = await this.axios.request<string>({ method: c.method, url: c.path, data: c.body, headers, timeout });
    } catch (e) {
      this.log(ctx)?.warn(
        { clair: this.baseUrl, method: c.method, path: c.path, ms: Date.now() - started, err: (e as Error).message },
        'clair call failed',
      );
      throw this.transportError(e, c.what, timeout);
    }
    this.log(ctx)?.debug(
      { clair: this.baseUrl, method: c.method, path: c.path, status: res.status, ms: Date.now() - started },
      'clair call',
    );
    if (res.status === 401)
      throw new ScannerError(
        `Clair at ${this.baseUrl} refused the request (401 Unauthorized) to ${c.what}: ` +
          (this.opts.psk
            ? 'the pre-shared key or issuer is wrong — check CLAIR_PSK and CLAIR_PSK_ISSUER against auth.psk in Clair’s config'
            : 'Clair requires PSK authentication — set CLAIR_PSK and CLAIR_PSK_ISSUER'),
      );
    return { status: res.status, body: typeof res.data === 'string' ? res.data : '', headers: res.headers };
  }

  /** Parses a reply body with a schema; a failure is a ScannerError ("unparseable reply"). */
  parse<S extends z.ZodType>(schema: S, reply: ClairReply, what: string): z.infer<S> {
    let json: unknown;
    try {
      json = JSON.parse(reply.body);
    } catch (e) {
      throw new ScannerError(
        `Clair at ${this.baseUrl} sent an unparseable reply to ${what} (HTTP ${reply.status}, not JSON) — is CLAIR_URL a Clair ${this.opts.version} server?`,
        { cause: e },
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ScannerError(
        `Clair at ${this.baseUrl} sent an unexpected reply to ${what} (HTTP ${reply.status}): ` +
          `${issue.path.join('.') || 'body'}: ${issue.message} — is CLAIR_URL a Clair ${this.opts.version} server?`,
        { cause: parsed.error },
      );
    }
    return parsed.data;
  }

  /** A status the call does not expect. */
  unexpected(reply: ClairReply, what: string, detail?: string): ScannerError {
    return new ScannerError(
      `Clair at ${this.baseUrl} answered HTTP ${reply.status} to ${what}${detail ? `: ${detail}` : ''}`,
    );
  }

  private transportError(e: unknown, what: string, timeoutMs: number): ScannerError {
    const at = `Clair at ${this.baseUrl}`;
    const code = e instanceof AxiosError ? e.code : (e as { code?: string } | undefined)?.code;
    const cause = e;
    const denied = egressDenial(e);
    if (denied)
      return new ScannerError(`cannot reach ${at}: refused to connect: ${denied.message} — check CLAIR_URL`, { cause });
    if (e instanceof AxiosError && /size cap/.test(e.message))
      return new ScannerError(`${at} sent a ${e.message} to ${what}; raise OUTBOUND_MAX_RESPONSE_MB`, { cause });
    switch (code) {
      case 'ECONNREFUSED':
        return new ScannerError(`cannot reach ${at}: connection refused — is it running? check CLAIR_URL`, { cause });
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return new ScannerError(`cannot reach ${at}: the host name does not resolve (DNS ${code}) — check CLAIR_URL`, {
          cause,
        });
      case 'ECONNABORTED':
      case 'ETIMEDOUT':
        return new ScannerError(
          `${at} did not answer within ${timeoutMs} ms to ${what} — Clair is overloaded or unreachable; ` +
            'check it, or raise CLAIR_TIMEOUT_MS / CLAIR_INDEX_TIMEOUT_MS',
          { cause, httpStatus: 504 },
        );
      case 'ECONNRESET':
      case 'EPIPE':
        return new ScannerError(`${at} closed the connection during ${what} — check Clair’s log`, { cause });
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return new ScannerError(`cannot reach ${at}: no route to host (${code}) — check CLAIR_URL`, { cause });
      default:
        return new ScannerError(`cannot reach ${at} to ${what}${code ? ` (${code})` : ''} — check CLAIR_URL`, {
          cause,
        });
    }
  }
}

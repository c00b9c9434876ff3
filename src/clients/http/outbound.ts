import dns, { type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net, { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import axios, {
  type AxiosError,
  type AxiosInstance,
  type CreateAxiosDefaults,
  type InternalAxiosRequestConfig,
} from 'axios';
import { DEFAULT_EGRESS_DENY, EgressPolicy, type EgressRules } from './egress-policy';

/**
 * The one outbound HTTP layer: every call to a registry, a vendor API, Clair or an alert receiver goes
 * through an axios instance made here. Each instance gets
 * - agents whose connections pass the egress policy on the resolved address (a custom `lookup`) and
 *   on IP literals (checked before connecting, as Node skips `lookup` for them);
 * - per-target TLS: verification on unless the target says `skipTlsVerify`, an optional CA;
 * - a total deadline per request (an AbortSignal timer), besides axios' idle `timeout`, so a server
 *   that drips bytes cannot hold a call open;
 * - a response size cap (and a request body cap);
 * - `proxy: false`: HTTP(S)_PROXY are never honoured. A proxy would resolve and connect for us, so the
 *   egress check on the resolved address would mean nothing.
 */

export interface OutboundSettings extends EgressRules {
  /** Cap of registry and Clair replies (manifests, config blobs, reports). */
  maxResponseBytes: number;
  /** Cap of small JSON APIs (vendor listers, alert receivers' answers). */
  maxApiResponseBytes: number;
}

export const DEFAULT_OUTBOUND: OutboundSettings = {
  deny: DEFAULT_EGRESS_DENY,
  maxResponseBytes: 64 * 1024 * 1024,
  maxApiResponseBytes: 8 * 1024 * 1024,
};

/** Error code of a connection refused by the egress policy (on the cause of the AxiosError). */
export const EGRESS_DENIED = 'EEGRESSDENIED';
/** Error code given to a request aborted by its total deadline (what axios uses for its own timeout). */
export const DEADLINE_CODE = 'ECONNABORTED';

export class EgressDeniedError extends Error {
  override name = 'EgressDeniedError';
  readonly code = EGRESS_DENIED;
}

type LookupFn = typeof dns.lookup;

export interface OutboundTarget {
  /** Total deadline of one request; a call's own `timeout` replaces it. */
  timeoutMs: number;
  /** Response cap; defaults to the layer's maxResponseBytes. */
  maxResponseBytes?: number;
  /** Accept any certificate (the registry's explicit opt-in for self-signed ones). */
  skipTlsVerify?: boolean;
  /** Extra trusted CA certificates (PEM) for this target. */
  ca?: string | Buffer;
  /** Keep connections open between calls (default true). */
  keepAlive?: boolean;
  maxSockets?: number;
}

export interface Outbound {
  readonly policy: EgressPolicy;
  readonly settings: OutboundSettings;
  /**
   * An axios instance for one target. `defaults` are the client's own axios settings (base URL,
   * response type, status handling); agents, proxy, caps and the deadline are set here.
   */
  client(target: OutboundTarget, defaults?: CreateAxiosDefaults): AxiosInstance;
  /**
   * Resolves the host of `urlOrHost` and throws EgressDeniedError naming the rule when any address
   * is denied: for checking a target when a person enters it. A name that does not resolve passes
   * (the connection test reports it); connections are checked again when made.
   */
  assertAllowed(urlOrHost: string): Promise<void>;
}

function hostOf(urlOrHost: string): string {
  try {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(urlOrHost)) return new URL(urlOrHost).hostname.replace(/^\[|\]$/g, '');
  } catch {
    // not a URL: treated as a host
  }
  return urlOrHost.replace(/^\[|\]$/g, '');
}

/** The egress-checked lookup: drops denied addresses; fails naming the rule when none is left. */
function guardedLookup(policy: EgressPolicy, resolve: LookupFn): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (...a: unknown[]) => void) => {
    resolve(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err);
      const allowed = addresses.filter((a) => policy.check(a.address) === null);
      if (allowed.length === 0) {
        const why = addresses.length ? policy.check(addresses[0].address)! : `${hostname} has no address`;
        return callback(new EgressDeniedError(`${hostname}: ${why}`));
      }
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0].address, allowed[0].family);
    });
  }) as unknown as net.LookupFunction;
}

type ConnectionOptions = { host?: string | null; hostname?: string | null };
type ConnectCallback = (err: Error | null, stream: Duplex) => void;

/** An IP-literal host is connected to without `lookup`: check it here, failing the socket like a refusal. */
function deniedLiteral(policy: EgressPolicy, options: ConnectionOptions): EgressDeniedError | null {
  const host = (options.host ?? options.hostname ?? '').replace(/^\[|\]$/g, '');
  if (!isIP(host)) return null;
  const why = policy.check(host);
  return why ? new EgressDeniedError(why) : null;
}

function refusedSocket(err: Error): net.Socket {
  const s = new net.Socket();
  process.nextTick(() => s.destroy(err));
  return s;
}

function guardedAgents(
  policy: EgressPolicy,
  lookup: net.LookupFunction,
  t: OutboundTarget,
): { httpAgent: http.Agent; httpsAgent: https.Agent } {
  const common = { keepAlive: t.keepAlive ?? true, maxSockets: t.maxSockets ?? 16, lookup };
  class GuardedHttpAgent extends http.Agent {
    override createConnection(options: http.ClientRequestArgs, cb?: ConnectCallback): Duplex | null | undefined {
      const denied = deniedLiteral(policy, options);
      return denied ? refusedSocket(denied) : super.createConnection(options, cb);
    }
  }
  class GuardedHttpsAgent extends https.Agent {
    override createConnection(options: http.ClientRequestArgs, cb?: ConnectCallback): Duplex | null | undefined {
      const denied = deniedLiteral(policy, options);
      return denied ? refusedSocket(denied) : super.createConnection(options, cb);
    }
  }
  return {
    httpAgent: new GuardedHttpAgent(common),
    httpsAgent: new GuardedHttpsAgent({ ...common, rejectUnauthorized: !t.skipTlsVerify, ca: t.ca }),
  };
}

/** The EgressDeniedError behind an error (an AxiosError keeps the socket's error as its cause), if any. */
export function egressDenial(err: unknown): EgressDeniedError | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof EgressDeniedError || (e as { code?: unknown }).code === EGRESS_DENIED)
      return e as EgressDeniedError;
  }
  return undefined;
}

const deadlines = new WeakMap<InternalAxiosRequestConfig, { signal: AbortSignal; ms: number }>();

/** Builds the layer from settings; `lookup` replaces DNS (tests map names to addresses with it). */
export function createOutbound(settings: OutboundSettings, opts: { lookup?: LookupFn } = {}): Outbound {
  const policy = new EgressPolicy(settings);
  const resolve = opts.lookup ?? dns.lookup;
  const lookup = guardedLookup(policy, resolve);

  function client(target: OutboundTarget, defaults: CreateAxiosDefaults = {}): AxiosInstance {
    const max = target.maxResponseBytes ?? settings.maxResponseBytes;
    const ax = axios.create({
      ...defaults,
      timeout: defaults.timeout ?? target.timeoutMs,
      maxContentLength: max,
      maxBodyLength: max,
      ...guardedAgents(policy, lookup, target),
      proxy: false,
    });
    // The total deadline: axios' `timeout` only bounds idle time on the socket.
    ax.interceptors.request.use((config) => {
      const ms = config.timeout || target.timeoutMs;
      const signal = AbortSignal.timeout(ms);
      deadlines.set(config, { signal, ms });
      config.signal = config.signal ? AbortSignal.any([config.signal as AbortSignal, signal]) : signal;
      return config;
    });
    ax.interceptors.response.use(undefined, (err: AxiosError) => {
      const d = err.config && deadlines.get(err.config);
      if (d?.signal.aborted && axios.isCancel(err)) {
        err.code = DEADLINE_CODE;
        err.message = `no complete answer within ${d.ms} ms (deadline)`;
      } else if (err.code === 'ERR_BAD_RESPONSE' && /maxContentLength/.test(err.message)) {
        err.message = `reply larger than ${max} bytes (size cap)`;
      }
      return Promise.reject(err);
    });
    return ax;
  }

  async function assertAllowed(urlOrHost: string): Promise<void> {
    const host = hostOf(urlOrHost);
    if (isIP(host)) {
      const why = policy.check(host);
      if (why) throw new EgressDeniedError(why);
      return;
    }
    let addresses: LookupAddress[];
    try {
      addresses = await new Promise<LookupAddress[]>((ok, fail) =>
        resolve(host, { all: true }, (err, a) => (err ? fail(err) : ok(a))),
      );
    } catch {
      return;
    }
    for (const a of addresses) {
      const why = policy.check(a.address);
      if (why) throw new EgressDeniedError(`${host}: ${why}`);
    }
  }

  return { policy, settings, client, assertAllowed };
}

const cache = new WeakMap<object, Outbound>();
let fallback: Outbound | undefined;

/** The layer for a configuration section, built once per section object; the defaults when none is given. */
export function outboundFor(settings?: OutboundSettings): Outbound {
  if (!settings) return (fallback ??= createOutbound(DEFAULT_OUTBOUND));
  let o = cache.get(settings);
  if (!o) {
    o = createOutbound(settings);
    cache.set(settings, o);
  }
  return o;
}

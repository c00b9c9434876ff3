/**
 * What an error may carry across a client boundary: a message and a typed reason, never the
 * transport object. An AxiosError holds `config` (headers with Authorization, `auth` with the
 * password), `request` (the raw request with its header block) and `response`; kept as a cause it
 * would reach the log with every secret the call carried. AppError's constructor passes every cause
 * through `safeCause`, so no client has to remember it.
 */

/** Why an outbound call failed, for logs, metrics and callers that branch on it. */
export type FailureReason =
  'refused' | 'timeout' | 'dns' | 'unreachable' | 'reset' | 'tls' | 'aborted' | 'denied' | 'other';

const REASON_BY_CODE: Record<string, FailureReason> = {
  ECONNREFUSED: 'refused',
  ECONNABORTED: 'timeout',
  ETIMEDOUT: 'timeout',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ERR_CANCELED: 'aborted',
  ABORT_ERR: 'aborted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls',
  CERT_HAS_EXPIRED: 'tls',
  CERT_NOT_YET_VALID: 'tls',
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls',
  ERR_SSL_WRONG_VERSION_NUMBER: 'tls',
  EPROTO: 'tls',
};

/** Keys of an error that hold transport objects (request, reply, their headers); never kept, never logged. */
export const TRANSPORT_KEYS: ReadonlySet<string> = new Set(['config', 'request', 'response', 'headers']);

/** A transport failure reduced to what is safe to keep: message, code and the reason derived from it. */
export class TransportFailure extends Error {
  override name = 'TransportFailure';
  readonly code: string | undefined;
  readonly reason: FailureReason;

  constructor(message: string, code: string | undefined, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.reason = reasonOfCode(code);
  }
}

export function reasonOfCode(code: string | undefined): FailureReason {
  return (code && REASON_BY_CODE[code]) || 'other';
}

/** True for an error object that carries a request, a reply or their configuration (AxiosError and alikes). */
function isTransportError(e: object): boolean {
  if ((e as { isAxiosError?: unknown }).isAxiosError === true) return true;
  return [...TRANSPORT_KEYS].some((k) => k !== 'headers' && Object.prototype.hasOwnProperty.call(e, k));
}

/**
 * The cause to keep: transport errors become a TransportFailure (message and code, with their own
 * cause made safe the same way, up to a few levels); anything else is kept as it is.
 */
export function safeCause(cause: unknown, depth = 0): unknown {
  if (!cause || typeof cause !== 'object' || depth > 5) return cause;
  if (!isTransportError(cause)) return cause;
  const e = cause as { message?: unknown; code?: unknown; cause?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' && e.message ? e.message : 'request failed';
  return new TransportFailure(message, code, e.cause === undefined ? undefined : safeCause(e.cause, depth + 1));
}

/** The typed reason of a failure: its own, its code's, or its cause's (first found along the chain). */
export function reasonOf(err: unknown, depth = 0): FailureReason | undefined {
  if (!err || typeof err !== 'object' || depth > 5) return undefined;
  const e = err as { reason?: unknown; code?: unknown; cause?: unknown };
  if (typeof e.reason === 'string') return e.reason as FailureReason;
  if (typeof e.code === 'string' && REASON_BY_CODE[e.code]) return REASON_BY_CODE[e.code];
  return reasonOf(e.cause, depth + 1);
}

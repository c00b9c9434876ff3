import { ErrorCodes, type ErrorKind } from './codes';
import { reasonOf, safeCause, type FailureReason } from './safe-cause';

export type { FailureReason } from './safe-cause';

export interface AppErrorOptions {
  /** Kept made safe: a transport error (AxiosError) is reduced to its message and code (safe-cause.ts). */
  cause?: unknown;
  /** Overrides the HTTP status of the code (e.g. 504 for a Clair timeout). */
  httpStatus?: number;
  /** Why an outbound call failed; derived from the cause's code when not given. */
  reason?: FailureReason;
}

/**
 * An error the API answers with its own code. `message` is the human-readable text that becomes
 * the envelope's `data`; for 5xx codes it must already be safe to show (no secrets, no driver text).
 */
export class AppError extends Error {
  readonly code: number;
  readonly httpStatus: number;
  readonly messageName: string;
  readonly isOperational = true;
  /** Typed reason of an outbound failure (refused, timeout, tls, …); undefined for other errors. */
  readonly reason: FailureReason | undefined;

  constructor(kind: ErrorKind, message: string, options: AppErrorOptions = {}) {
    const cause = safeCause(options.cause);
    super(message, cause === undefined ? undefined : { cause });
    const entry = ErrorCodes[kind];
    this.name = kind;
    this.code = entry.code;
    this.messageName = entry.name;
    this.httpStatus = options.httpStatus ?? entry.httpStatus;
    this.reason = options.reason ?? reasonOf(cause);
  }
}

export class ScannerError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('ScannerError', message, options);
  }
}
export class RegistryError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('RegistryError', message, options);
  }
}
export class ParameterError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('ParameterError', message, options);
  }
}
export class NotFoundError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('NotFoundError', message, options);
  }
}
/**
 * The one reply text of a 5005, whether the driver already knew the database was away (fast fail) or
 * an operation failed on it: a client sees the same actionable message either way.
 */
export const DATABASE_UNAVAILABLE =
  'the database is unavailable or failed; check that MongoDB is running and reachable, then retry';

export class DatabaseError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('DatabaseError', message, options);
  }
}
export class ConflictError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('ConflictError', message, options);
  }
}
export class AuthError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('AuthError', message, options);
  }
}
/** Too many requests from one client (HTTP 429); the reply carries Retry-After. */
export class RateLimitError extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super('RateLimitError', message, options);
  }
}
/**
 * 5007 with HTTP 403: the caller is known (its token is valid) but may not do this, e.g. a write
 * with a read-only token. 401 stays for a missing or unknown token.
 */
export class ForbiddenError extends AppError {
  constructor(message: string, options?: Omit<AppErrorOptions, 'httpStatus'>) {
    super('AuthError', message, { ...options, httpStatus: 403 });
  }
}
export class InternalError extends AppError {
  constructor(message = 'internal error', options?: AppErrorOptions) {
    super('InternalError', message, options);
  }
}

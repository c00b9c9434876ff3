import type { Counter } from 'prom-client';
import { AppError } from '../errors/app-error';

/** The `reason` label of a failed outbound call, read from the AppError the client threw. */
export function errorReason(err: AppError): 'timeout' | 'network' | 'auth' | 'parse' | 'status' {
  const m = err.message;
  if (err.httpStatus === 504 || /\btimeout\b|did not answer within|no answer within/i.test(m)) return 'timeout';
  if (/cannot reach|connection refused|closed the connection|does not resolve|TLS|no route to host/i.test(m))
    return 'network';
  if (/\b401\b|\b403\b|credentials|refused the request|denied|unauthori[sz]ed/i.test(m)) return 'auth';
  if (/not JSON|unparseable|unexpected (reply|[a-z ]+\()/i.test(m)) return 'parse';
  return 'status';
}

/**
 * Wraps every method of a client so that each error it throws (promise rejection, or an error
 * during iteration of an async iterable it returns) is counted in `counter` by reason, then
 * rethrown unchanged. `counts` picks the errors that are call failures (e.g. RegistryError, not a
 * NotFoundError for a vanished tag). Non-function properties are copied as they are.
 */
export function countErrors<T extends object>(
  client: T,
  counter: Counter<'reason'>,
  counts: (err: unknown) => err is AppError,
): T {
  const note = (err: unknown): never => {
    if (counts(err)) counter.inc({ reason: errorReason(err) });
    throw err;
  };
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(client)) {
    if (typeof value !== 'function') {
      wrapped[name] = value;
      continue;
    }
    wrapped[name] = (...args: unknown[]) => {
      let out: unknown;
      try {
        out = (value as (...a: unknown[]) => unknown).apply(client, args);
      } catch (err) {
        return note(err);
      }
      if (out instanceof Promise) return out.catch(note);
      if (out && typeof out === 'object' && Symbol.asyncIterator in out) {
        const source = out as AsyncIterable<unknown>;
        return {
          async *[Symbol.asyncIterator]() {
            try {
              yield* source;
            } catch (err) {
              note(err);
            }
          },
        };
      }
      return out;
    };
  }
  return wrapped as T;
}

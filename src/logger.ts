import pino, { type DestinationStream, type Logger } from 'pino';
import { TRANSPORT_KEYS } from './errors/safe-cause';

/**
 * Paths pino blanks out wherever they appear in a log object: credentials of registries, tokens
 * and Authorization headers (incoming and outgoing). Keys are matched at these depths.
 */
export const REDACT_PATHS = [
  'passwd',
  'password',
  'token',
  'secret',
  'authorization',
  'Authorization',
  '*.passwd',
  '*.password',
  '*.passwdEnc',
  '*.token',
  '*.secret',
  '*.authorization',
  '*.Authorization',
  '*.*.passwd',
  '*.*.password',
  '*.*.authorization',
  '*.*.Authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-auth-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.Authorization',
  'config.headers.Authorization',
  'config.auth',
  // Registry client targets and outbound request headers.
  'credentials',
  '*.credentials',
  '*.*.credentials',
  '*.headers.authorization',
  '*.headers.Authorization',
  'passwdEnc',
];

export type { Logger };

const MAX_DEPTH = 12;

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** An error, or a plain object shaped like one (an AxiosError's `toJSON()`). */
function isErrorLike(v: object): boolean {
  if (v instanceof Error) return true;
  const o = v as Record<string, unknown>;
  return isPlainObject(v) && typeof o.message === 'string' && ('stack' in o || 'code' in o || 'name' in o);
}

/**
 * `value` with every error at any depth (cause chains, AggregateError.errors, errors inside plain
 * objects and arrays) stripped of `config`, `request`, `response` and `headers`: an AxiosError keeps
 * the outgoing Authorization header and Basic `auth` in `config`, and the raw header block in
 * `request`, deeper than redaction paths reach. Errors are copied with their prototype (so
 * `instanceof` and the error serializer still see what they were); objects that are neither plain
 * nor errors (requests, replies, buffers) are left to their serializers. Unchanged values are
 * returned as they are, so the common log call costs one walk and no copy.
 */
export function stripTransport(value: unknown, depth = 0, seen = new WeakMap<object, unknown>()): unknown {
  if (!value || typeof value !== 'object') return value;
  if (seen.has(value)) return seen.get(value);
  if (depth > MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) {
    seen.set(value, '[circular]');
    let changed = false;
    const out = value.map((v) => {
      const s = stripTransport(v, depth + 1, seen);
      if (s !== v) changed = true;
      return s;
    });
    const result = changed ? out : value;
    seen.set(value, result);
    return result;
  }
  const errorLike = isErrorLike(value);
  if (!errorLike && !isPlainObject(value)) return value;
  // While its members are walked, a reference back to this object is a cycle.
  seen.set(value, '[circular]');
  const descriptors = Object.getOwnPropertyDescriptors(value);
  let changed = false;
  for (const [key, d] of Object.entries(descriptors)) {
    if (errorLike && TRANSPORT_KEYS.has(key)) {
      delete descriptors[key];
      changed = true;
      continue;
    }
    if (!('value' in d)) continue;
    const s = stripTransport(d.value, depth + 1, seen);
    if (s !== d.value) {
      d.value = s;
      changed = true;
    }
  }
  if (!changed) {
    seen.set(value, value);
    return value;
  }
  const copy = Object.create(Object.getPrototypeOf(value) as object | null, descriptors) as object;
  seen.set(value, copy);
  return copy;
}

/** Creates the root logger. `destination` lets tests capture the output. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Runs on every log object before the serializers, in child loggers too (pino-http's included).
      formatters: { log: (obj) => stripTransport(obj) as Record<string, unknown> },
    },
    destination,
  );
}

import mongoose from 'mongoose';
import { ZodError, type core } from 'zod';
import {
  AppError,
  ConflictError,
  DATABASE_UNAVAILABLE,
  DatabaseError,
  InternalError,
  NotFoundError,
  ParameterError,
} from './app-error';

/** Renders zod issues as "path: reason" lines a person can act on; `root` prefixes each path. */
export function formatZodIssues(issues: readonly core.$ZodIssue[], root?: string): string {
  return issues
    .map((i) => {
      const path = [root, ...i.path.map(String)].filter(Boolean).join('.');
      if (i.code === 'unrecognized_keys') {
        const keys = (i as core.$ZodIssueUnrecognizedKeys).keys.map((k) => `"${k}"`).join(', ');
        return `${path || 'body'}: unknown field${keys.includes(',') ? 's' : ''} ${keys}`;
      }
      return `${path || 'body'}: ${i.message}`;
    })
    .join('; ');
}

interface BodyParserError {
  type: string;
  status?: number;
  expose?: boolean;
}

function isBodyParserError(e: unknown): e is BodyParserError & Error {
  return e instanceof Error && typeof (e as Partial<BodyParserError>).type === 'string' && 'status' in e;
}

/** The 4xx status http-errors (body-parser, Express's router) put on a client's fault, else undefined. */
function clientStatus(e: unknown): number | undefined {
  if (!(e instanceof Error)) return undefined;
  const status = (e as { status?: unknown; statusCode?: unknown }).status ?? (e as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

function isMongoError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return (
    e instanceof mongoose.Error ||
    e.name.startsWith('Mongo') ||
    e.name === 'MongooseServerSelectionError' ||
    e.name === 'BSONError'
  );
}

type Rule = [match: (e: unknown) => boolean, translate: (e: any) => AppError];

// Order matters: the first matching row wins. Each row has a unit test.
const RULES: Rule[] = [
  [(e) => e instanceof AppError, (e: AppError) => e],
  [(e) => e instanceof ZodError, (e: ZodError) => new ParameterError(formatZodIssues(e.issues), { cause: e })],
  [
    (e) => isBodyParserError(e) && e.type === 'entity.parse.failed',
    (e: Error) => new ParameterError('body: invalid JSON', { cause: e }),
  ],
  [
    (e) => isBodyParserError(e) && e.type === 'entity.too.large',
    (e: Error) => new ParameterError('body: larger than the 1 MB limit', { cause: e }),
  ],
  [
    (e) => isBodyParserError(e) && (e.status ?? 500) < 500,
    (e: Error) => new ParameterError(`body: ${e.message}`, { cause: e }),
  ],
  [
    // Express's router: a path parameter whose percent-encoding is not UTF-8 (`/api/suppressions/%FF`).
    (e) => e instanceof URIError && clientStatus(e) !== undefined,
    (e: Error) => new ParameterError('path: a parameter is percent-encoded but does not decode to UTF-8', { cause: e }),
  ],
  [
    // body-parser: a gzip/deflate/br body whose bytes are not in that encoding (zlib's Z_* and
    // brotli's ERR__ERROR_* codes).
    (e) => clientStatus(e) !== undefined && /^(Z_|ERR__ERROR_|ERR_BROTLI)/.test(String((e as { code?: unknown }).code)),
    (e: Error) =>
      new ParameterError('body: does not decode with the encoding its Content-Encoding header names', { cause: e }),
  ],
  [
    (e) => e instanceof mongoose.Error.CastError,
    (e: mongoose.Error.CastError) => new ParameterError(`${e.path}: invalid value`, { cause: e }),
  ],
  [
    (e) => e instanceof mongoose.Error.ValidationError,
    (e: mongoose.Error.ValidationError) =>
      new ParameterError(
        Object.values(e.errors)
          .map((x) => `${x.path}: ${x.kind === 'required' ? 'is required' : 'invalid value'}`)
          .join('; '),
        { cause: e },
      ),
  ],
  [
    (e) => e instanceof mongoose.Error.DocumentNotFoundError,
    (e: Error) => new NotFoundError('the document no longer exists', { cause: e }),
  ],
  [
    (e) => isMongoError(e) && (e as { code?: number }).code === 11000,
    (e: Error) => new ConflictError('a record with the same key already exists', { cause: e }),
  ],
  [isMongoError, (e: Error) => new DatabaseError(DATABASE_UNAVAILABLE, { cause: e })],
];

/** Translates any thrown value into an AppError, once, at the HTTP edge or in a job. */
export function toAppError(e: unknown): AppError {
  for (const [match, translate] of RULES) if (match(e)) return translate(e);
  return new InternalError('internal error', { cause: e });
}

import type { ErrorRequestHandler } from 'express';
import { toAppError } from '../../errors/to-app-error';
import { fail } from '../envelope';

/**
 * The one error middleware, registered last. Translates, lets pino-http log the error once
 * (via res.err), and replies with the envelope. 5000 replies carry a generic text; other 5xx
 * carry the AppError's message, which its thrower wrote to be safe to show.
 */
export const errorHandler: ErrorRequestHandler = (err, _req, res, next) => {
  const e = toAppError(err);
  (res as unknown as { err: unknown }).err = e.httpStatus >= 500 ? (e.cause ?? e) : e;
  if (res.headersSent) return next(err);
  const detail =
    e.code === 5000 ? 'internal error; the request id in X-Request-Id identifies it in the log' : e.message;
  res.status(e.httpStatus).json(fail(e.code, e.messageName, detail));
};

import type { RequestHandler } from 'express';
import { NotFoundError } from '../../errors/app-error';

/** Registered after every router: unknown routes get a JSON 5004 instead of Express's HTML page. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`no route for ${req.method} ${req.path}`));
};

import type { RequestHandler } from 'express';
import { httpRequestDurationHistogram } from '../../metrics';
import { matchedRoute } from './route-pattern';

/** Label for requests no route answered: raw paths would make one time series per URL. */
export const UNMATCHED_ROUTE = '(unmatched)';

/** Observes every request's duration in the HTTP histogram once the response is finished. */
export const httpMetrics: RequestHandler = (req, res, next) => {
  const end = httpRequestDurationHistogram.startTimer();
  res.once('finish', () => {
    // A mounted middleware (Swagger UI's static files) leaves baseUrl set; routers restore it on exit.
    const route = matchedRoute(req) ?? (req.baseUrl || UNMATCHED_ROUTE);
    end({ method: req.method, route, status: String(res.statusCode) });
  });
  next();
};

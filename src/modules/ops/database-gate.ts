import type { RequestHandler } from 'express';
import { assertDatabaseUp } from '../../db/mongo';

/** Paths under the gate's mount point that never touch the database. */
const NO_DATABASE = ['/openapi.json', '/docs'];

/**
 * While the driver knows the database is away, every request under the mount point answers 5005
 * (503) at once instead of each waiting for a server selection to time out. Requests in flight when
 * the database goes away still fail through the driver (5005 too), within its selection timeout.
 */
export function databaseGate(): RequestHandler {
  return (req, _res, next) => {
    if (NO_DATABASE.some((p) => req.path === p || req.path.startsWith(`${p}/`))) return next();
    assertDatabaseUp();
    next();
  };
}

import mongoose from 'mongoose';
import { databaseState } from '../../db/mongo';
import type { Ctx } from '../../http/context';
import type { Readiness } from './ops.schemas';

/** How long /readyz waits for each dependency before calling it unreachable. */
export const READY_TIMEOUT_MS = 2000;

/** The collection the readiness read uses: small (one document per lease) and always present once used. */
const PROBE_COLLECTION = 'leases';

export interface ReadinessDeps {
  clairPing?: () => Promise<boolean>;
  /** Whether /api requires a token, reported as `auth` so a probe can flag an open API; default "open". */
  auth?: Readiness['auth'];
  timeoutMs?: number;
}

/** Readiness plus, when the database is not ready, why (for the 503's message and the log). */
export interface ReadinessReport extends Readiness {
  databaseProblem: string | null;
}

/**
 * Reads from the database (a real query, not a `ping`: a server can answer pings and still not serve
 * reads) and, when a Clair client is wired, pings Clair; both in parallel and bounded. Never throws:
 * an unreachable dependency is `false` (`clair: null` when there is no Clair client).
 */
export async function readiness(deps: ReadinessDeps, ctx: Ctx): Promise<ReadinessReport> {
  const timeoutMs = deps.timeoutMs ?? READY_TIMEOUT_MS;
  const [database, clair] = await Promise.all([
    probe('database', () => readDatabase(timeoutMs), timeoutMs, ctx),
    deps.clairPing ? probe('clair', deps.clairPing, timeoutMs, ctx) : Promise.resolve(true),
  ]);
  return {
    database: database === true,
    clair: deps.clairPing ? clair === true : null,
    auth: deps.auth ?? 'open',
    databaseProblem: database === true ? null : database,
  };
}

async function readDatabase(timeoutMs: number): Promise<boolean> {
  const state = databaseState();
  // The driver already knows: answer at once instead of waiting for a server selection to time out.
  if (!state.up) throw new Error('the driver reports the database down');
  const conn = mongoose.connection;
  // Without this check a read on a closed connection would wait for the driver's selection timeout.
  if (conn.readyState !== mongoose.ConnectionStates.connected || !conn.db) {
    throw new Error('the database connection is closed');
  }
  // timeoutMS (the driver's client-side operation timeout) also sends the server a maxTimeMS, and on
  // expiry closes the connection, so a wedged server does not keep one pooled connection per probe;
  // probe() bounds the whole call once more.
  await conn.db.collection(PROBE_COLLECTION).findOne({}, { projection: { _id: 1 }, timeoutMS: timeoutMs });
  return true;
}

/** true, or the reason the dependency is not ready. */
async function probe(name: string, check: () => Promise<boolean>, timeoutMs: number, ctx: Ctx): Promise<true | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return (await Promise.race([check(), timeout])) === true ? true : 'it answered false';
  } catch (err) {
    // Probes run every few seconds; the request line already records the 503.
    ctx.log.debug({ err, dependency: name }, 'readiness probe failed');
    // Our own messages as they are; a driver's error only by its kind (no hosts, raw driver text or
    // driver class names in a reply: the log has the detail).
    const e = err as Error;
    if (e.name === 'Error') return e.message;
    return /network|timeout|selection/i.test(e.name)
      ? 'the read got no answer (connection lost or timed out)'
      : 'the read failed';
  } finally {
    clearTimeout(timer);
  }
}

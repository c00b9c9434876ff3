import mongoose from 'mongoose';
import type { Ctx } from '../../http/context';
import type { Readiness } from './ops.schemas';

/** How long /readyz waits for each dependency before calling it unreachable. */
export const READY_TIMEOUT_MS = 2000;

export interface ReadinessDeps {
  clairPing?: () => Promise<boolean>;
  /** Whether /api requires a token, reported as `auth` so a probe can flag an open API; default "open". */
  auth?: Readiness['auth'];
  timeoutMs?: number;
}

/**
 * Pings the database and, when a Clair client is wired, Clair; both in parallel and bounded.
 * Never throws: an unreachable dependency is `false` (`clair: null` when there is no Clair client).
 */
export async function readiness(deps: ReadinessDeps, ctx: Ctx): Promise<Readiness> {
  const timeoutMs = deps.timeoutMs ?? READY_TIMEOUT_MS;
  const [database, clair] = await Promise.all([
    probe('database', pingDatabase, timeoutMs, ctx),
    deps.clairPing ? probe('clair', deps.clairPing, timeoutMs, ctx) : Promise.resolve(null),
  ]);
  return { database, clair, auth: deps.auth ?? 'open' };
}

async function pingDatabase(): Promise<boolean> {
  const conn = mongoose.connection;
  // Without this check a ping on a closed connection would wait in mongoose's buffer.
  if (conn.readyState !== mongoose.ConnectionStates.connected || !conn.db) return false;
  await conn.db.command({ ping: 1 });
  return true;
}

async function probe(name: string, ping: () => Promise<boolean>, timeoutMs: number, ctx: Ctx): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return (await Promise.race([ping(), timeout])) === true;
  } catch (err) {
    // Probes run every few seconds; the request line already records the 503.
    ctx.log.debug({ err, dependency: name }, 'readiness probe failed');
    return false;
  } finally {
    clearTimeout(timer);
  }
}

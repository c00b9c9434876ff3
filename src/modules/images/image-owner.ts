import { acquireLease, keepLease, releaseLease } from '../../db/lease';
import { createPeriodic, type Periodic } from '../../jobs/periodic';
import type { Logger } from '../../logger';
import { drainImageMarkers, reconcileImages, type DrainResult, type ReconcileResult } from './image-state';

export interface ImageOwnerDeps {
  logger: Logger;
  instance: string;
  /** Drain the dirty markers this often; 0 turns the periodic drain off. */
  drainMs: number;
  /** Recompute every digest this often (one instance per interval); 0 turns it off. */
  reconcileMs: number;
  /** Markers (drain) and digests (reconcile) per batch. */
  batch: number;
  /** Markers younger than this are left to the writer that is still recomputing them. */
  minAgeMs: number;
  leaseMs: number;
}

const DRAIN_LEASE = 'image-markers';
const RECONCILE_LEASE = 'image-reconcile';

/**
 * The background half of the images' single owner: the drain of dirty markers (what a crash between
 * a mark and its recompute left) and the slow reconcile of every digest, each run by the one
 * instance holding its lease, through the periodic runner (a failure is logged and backed off,
 * never an unhandled rejection).
 */
export function createImageOwner(deps: ImageOwnerDeps) {
  const log = deps.logger.child({ component: 'image-owner' });
  let drainer: Periodic | null = null;
  let reconciler: Periodic | null = null;
  let stopping = false;

  /** One drain under the lease; null when another instance holds it. Rejects on failure. */
  async function drain(): Promise<DrainResult | null> {
    const held = await acquireLease(DRAIN_LEASE, deps.instance, deps.leaseMs);
    if (!held) return null;
    const renew = keepLease(held, deps.leaseMs, log);
    const started = Date.now();
    try {
      const result = await drainImageMarkers(
        { batch: deps.batch, minAgeMs: deps.minAgeMs },
        { log },
        () => stopping || renew.signal.aborted,
      );
      if (result.digests || result.stale) log.info({ ...result, ms: Date.now() - started }, 'dirty images recomputed');
      return result;
    } finally {
      await renew.stop();
      await releaseLease(held).catch(() => undefined);
    }
  }

  /**
   * One reconcile under its lease, unless one ran less than `reconcileMs` ago anywhere (`force`
   * skips that check); null when it did not run. Rejects on failure.
   */
  async function reconcile(force = false): Promise<ReconcileResult | null> {
    const lease = await acquireLease(RECONCILE_LEASE, deps.instance, deps.leaseMs);
    if (!lease) return null;
    const last = lease.data?.lastRunAt ? new Date(lease.data.lastRunAt as string).getTime() : 0;
    if (!force && Date.now() - last < deps.reconcileMs) {
      await releaseLease(lease);
      return null;
    }
    const renew = keepLease(lease, deps.leaseMs, log);
    try {
      const result = await reconcileImages({ batch: deps.batch }, { log }, () => stopping || renew.signal.aborted);
      await renew.stop();
      // A run cut short by a shutdown does not count as the interval's run.
      await releaseLease(lease, stopping ? undefined : { lastRunAt: new Date(), lastResult: result });
      return result;
    } catch (err) {
      await renew.stop();
      await releaseLease(lease).catch(() => undefined);
      throw err;
    }
  }

  return {
    drain,
    reconcile,
    start() {
      stopping = false;
      if (!drainer && deps.drainMs > 0) {
        drainer = createPeriodic({ name: 'image-markers', everyMs: deps.drainMs, run: drain, log });
        drainer.start();
      }
      if (!reconciler && deps.reconcileMs > 0) {
        // Checked more often than the interval, so a run missed by a dead instance is picked up soon.
        reconciler = createPeriodic({
          name: 'image-reconcile',
          everyMs: Math.min(deps.reconcileMs, 60_000),
          run: () => reconcile(false),
          log,
        });
        reconciler.start();
      }
    },
    async stop() {
      stopping = true;
      const [d, r] = [drainer, reconciler];
      drainer = null;
      reconciler = null;
      await Promise.all([d?.stop(), r?.stop()]);
    },
  };
}

export type ImageOwner = ReturnType<typeof createImageOwner>;

import type { ClairClient, Finding } from '../../clients/clair';
import type { Config } from '../../config';
import { acquireLease, keepLease, releaseLease } from '../../db/lease';
import { createPeriodic, type Periodic } from '../../jobs/periodic';
import type { Ctx } from '../../http/context';
import type { Logger } from '../../logger';
import { markImagesDirty, recomputeImages } from '../images';
import { recordScan } from '../vulnerabilities/image-history';
import { LEVELS } from '../../domain/severity';
import { storeReport, type DigestSummary } from './findings.store';
import { ScanJobModel, type ScanJobDoc } from './scan-job.model';

export interface RefreshDeps {
  clair: ClairClient;
  scan: Config['scan'];
  logger: Logger;
  instance: string;
  /** Queues alerts for findings first seen in a refreshed report (new CVEs usually appear here); never throws. */
  alerts?: { newFindings(digest: string, findings: readonly Finding[], ctx: Ctx): Promise<unknown> };
}

export interface RefreshResult {
  refreshed: number;
  requeued: number;
  indexStateChanged: boolean;
}

const LEASE = 'refresh';

/** True when a new report's summary equals the one stored with the job (nothing to copy onto images). */
function sameSummary(a: DigestSummary, b: ScanJobDoc['result']): boolean {
  return (
    b != null &&
    a.namespace === b.namespace &&
    a.packages === b.packages &&
    a.findings === b.findings &&
    LEVELS.every((l) => a.counts[l] === (b.counts?.[l] ?? 0))
  );
}

/**
 * Freshness for Clair v4, which matches at request time: every SCAN_REFRESH_INTERVAL_MS one
 * instance (the one that takes the `refresh` lease, and only when the last run is older than the
 * interval) re-reads the vulnerability report of every scanned digest without re-indexing. When
 * Clair's index_state changed since a digest was indexed, that digest is queued for a re-index instead.
 */
export function createRefresher(deps: RefreshDeps) {
  const log = deps.logger.child({ component: 'refresh' });
  let periodic: Periodic | null = null;

  async function refreshAll(ctx: Ctx): Promise<RefreshResult> {
    const result: RefreshResult = { refreshed: 0, requeued: 0, indexStateChanged: false };
    if (!deps.clair.report) return result;
    const state = deps.clair.indexState ? await deps.clair.indexState(ctx) : null;
    const now = new Date();
    if (state) {
      const stale = await ScanJobModel.updateMany(
        { state: 'done', indexState: { $nin: [state, null] } },
        { $set: { state: 'queued', attempts: 0, notBefore: now, queuedAt: now } },
      );
      result.requeued += stale.modifiedCount;
      result.indexStateChanged = stale.modifiedCount > 0;
    }
    const cursor = ScanJobModel.find({ state: 'done' }, { digest: 1, finishedAt: 1, firstScannedAt: 1, result: 1 })
      .sort({ state: 1, finishedAt: -1 })
      .lean<ScanJobDoc>()
      .batchSize(500)
      .cursor();
    const pool = new Set<Promise<void>>();
    const one = async (job: Pick<ScanJobDoc, '_id' | 'digest' | 'result' | 'firstScannedAt'>) => {
      const report = await deps.clair.report!(job.digest, ctx);
      // A refresher that lost its lease writes nothing more (another instance refreshes now).
      ctx.signal?.throwIfAborted();
      const at = new Date();
      if (!report) {
        await ScanJobModel.updateOne(
          { _id: job._id, state: 'done' },
          { $set: { state: 'queued', attempts: 0, notBefore: at, queuedAt: at } },
        );
        result.requeued++;
        return;
      }
      const stored = await storeReport(
        job.digest,
        report,
        {
          batchSize: deps.scan.findingsBatchSize,
          now: at,
          // Findings about to change: the digest's images are marked first (src/modules/images).
          beforeWrite: async (c) => {
            if (c.inserts + c.rewrites + c.fixed > 0) await markImagesDirty([job.digest]);
          },
        },
        ctx,
      );
      // An unchanged report writes nothing: no finding, no job result, no image, no history point.
      if (stored.inserted + stored.updated + stored.fixed === 0 && sameSummary(stored.summary, job.result)) {
        result.refreshed++;
        return;
      }
      await markImagesDirty([job.digest]);
      await ScanJobModel.updateOne(
        { _id: job._id, state: 'done' },
        { $set: { result: stored.summary, scannedAt: at, firstScannedAt: job.firstScannedAt ?? at } },
      );
      await recomputeImages([job.digest], ctx);
      // A refresh that changed nothing adds no point: 100k images every 6 h would otherwise add 400k a day.
      await recordScan(job.digest, at, { onlyIfChanged: true });
      await deps.alerts?.newFindings(job.digest, stored.newFindings, ctx);
      result.refreshed++;
    };
    for await (const job of cursor) {
      ctx.signal?.throwIfAborted();
      const p: Promise<void> = one(job)
        .catch((err: unknown) =>
          log.warn({ digest: job.digest, err: (err as Error).message }, 'refresh of one digest failed'),
        )
        .finally(() => pool.delete(p));
      pool.add(p);
      if (pool.size >= deps.scan.concurrency) await Promise.race(pool);
    }
    await Promise.allSettled([...pool]);
    return result;
  }

  /**
   * Runs a refresh when this instance wins the lease and the last run is older than the interval;
   * null when it did not run. Rejects when it fails (database or Clair away): the periodic runner
   * logs that under the task's name and backs off.
   */
  async function attempt(force: boolean): Promise<RefreshResult | null> {
    const lease = await acquireLease(LEASE, deps.instance, deps.scan.leaseMs);
    if (!lease) return null;
    const last = lease.data?.lastRunAt ? new Date(lease.data.lastRunAt as string).getTime() : 0;
    if (!force && Date.now() - last < deps.scan.refreshIntervalMs) {
      await releaseLease(lease);
      return null;
    }
    const renew = keepLease(lease, deps.scan.leaseMs, log);
    const started = Date.now();
    try {
      const result = await refreshAll({ log, signal: renew.signal });
      log.info({ ...result, ms: Date.now() - started }, 'vulnerability reports refreshed');
      await renew.stop();
      await releaseLease(lease, { lastRunAt: new Date(), lastResult: result });
      return result;
    } catch (err) {
      await renew.stop();
      await releaseLease(lease).catch(() => undefined);
      throw err;
    }
  }

  /** One refresh now (tests, operators); never rejects: a failure is logged and resolves null. */
  async function tick(force = false): Promise<RefreshResult | null> {
    try {
      return await attempt(force);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'refresh failed; next interval tries again');
      return null;
    }
  }

  return {
    tick,
    start() {
      if (periodic || deps.scan.refreshIntervalMs === 0 || !deps.clair.report) return;
      // Checked more often than the interval, so a run missed by a dead instance is picked up soon.
      periodic = createPeriodic({
        name: 'report-refresh',
        everyMs: Math.min(deps.scan.refreshIntervalMs, 60_000),
        run: () => attempt(false),
        log,
      });
      periodic.start();
    },
    async stop() {
      const p = periodic;
      periodic = null;
      await p?.stop();
    },
  };
}
export type Refresher = ReturnType<typeof createRefresher>;

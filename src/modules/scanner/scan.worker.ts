import type { ClairClient, Finding, ScanInput } from '../../clients/clair';
import type { Config } from '../../config';
import { claimOne } from '../../db/claim';
import { createPollLoops } from '../../jobs/poll-loops';
import { AppError, NotFoundError, ParameterError, RegistryError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import type { Logger } from '../../logger';
import { scanDurationHistogram, scanJobsGauge } from '../../metrics';
import { markImagesDirty, recomputeImages } from '../images';
import type { RegistriesService } from '../registries';
import { recordScan } from '../vulnerabilities/image-history';
import { storeReport } from './findings.store';
import { ScanJobModel, type ScanJobDoc } from './scan-job.model';

export interface WorkerDeps {
  registries: RegistriesService;
  clair: ClairClient;
  scan: Config['scan'];
  clairIndexTimeoutMs: number;
  logger: Logger;
  instance: string;
  /** Queues alerts for findings first seen by a scan; never throws. */
  alerts?: { newFindings(digest: string, findings: readonly Finding[], ctx: Ctx): Promise<unknown> };
}

export interface ScanWorker {
  start(): void;
  /** Stops claiming; waits for scans in flight up to `graceMs`, then leaves them to be taken over. */
  stop(graceMs?: number): Promise<void>;
  /** Claims and runs one job now; false when none was claimable (tests and benches). */
  runOnce(): Promise<boolean>;
  /** Resolves when no job is claimable and none is running here. */
  drain(timeoutMs: number): Promise<void>;
  /** Jobs were just queued in this process: idle loops look for them now rather than after SCAN_POLL_MS. */
  wake(): void;
}

/** This instance no longer owns the job it was scanning (lease lost, taken over). */
class ClaimLostError extends Error {}

/** `p`, or a rejection with `lost()` as soon as `signal` aborts (the work behind `p` is left to end on its own). */
async function untilAborted<T>(p: Promise<T>, signal: AbortSignal, lost: () => Error): Promise<T> {
  if (signal.aborted) throw lost();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(lost());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([p, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

/** Errors that another attempt will not fix: the image or registry is gone, the input is bad. */
function permanent(err: unknown): boolean {
  return err instanceof NotFoundError || err instanceof ParameterError;
}

function message(err: unknown): string {
  if (err instanceof AppError) return err.message;
  return 'internal error while scanning (see the service log)';
}

/**
 * The scan worker: `concurrency` loops, each claiming one queued job (or one whose lease expired:
 * a dead instance's) with an atomic claim (src/db/claim.ts), renewing the lease while Clair works,
 * and writing the outcome only while it still owns the job.
 */
export function createScanWorker(deps: WorkerDeps): ScanWorker {
  const log = deps.logger.child({ component: 'scan-worker' });
  const inFlight = new Set<Promise<unknown>>();
  /** Alert derivations hinted by finished scans (they never reject). */
  const background = new Set<Promise<unknown>>();

  // Claims of this instance's loops run one at a time, so they never race each other past the registry cap.
  let claiming: Promise<unknown> = Promise.resolve();

  async function claim(): Promise<ScanJobDoc | null> {
    const turn = claiming.then(claimCapped);
    claiming = turn.catch(() => undefined);
    return turn;
  }

  /**
   * One atomic claim (src/db/claim.ts) over queued jobs (and running ones whose lease expired), skipping
   * registries whose live running jobs already reach SCAN_REGISTRY_CONCURRENCY. Two instances can
   * both pass that count; the check after the claim lets only the first `cap` running jobs of the
   * registry (by startedAt, _id: the same order everywhere) proceed and gives the others back.
   */
  async function claimCapped(): Promise<ScanJobDoc | null> {
    const now = new Date();
    const cap = deps.scan.perRegistryConcurrency;
    const full = cap > 0 ? await registriesAtCap(now, cap) : [];
    const job = await claimOne<ScanJobDoc>(ScanJobModel as never, {
      scope: 'scanjob',
      owner: deps.instance,
      staleMs: deps.scan.leaseMs,
      filter: {
        $or: [
          { state: 'queued', notBefore: { $lte: now } },
          { state: 'running', leaseUntil: { $lt: now } },
        ],
        ...(full.length ? { repository: { $nin: full } } : {}),
      },
      sort: { notBefore: 1 },
      update: {
        $set: {
          state: 'running',
          leaseOwner: deps.instance,
          leaseUntil: new Date(now.getTime() + deps.scan.leaseMs),
          startedAt: now,
        },
        $inc: { attempts: 1 },
      },
      now,
    });
    if (!job || cap === 0) return job;
    const first = await ScanJobModel.find(
      { state: 'running', repository: job.repository, leaseUntil: { $gte: now } },
      { _id: 1 },
    )
      .sort({ startedAt: 1, _id: 1 })
      .limit(cap)
      .lean<Array<{ _id: unknown }>>();
    if (first.some((j) => String(j._id) === String(job._id))) return job;
    await ScanJobModel.updateOne(
      { _id: job._id, leaseOwner: deps.instance, state: 'running' },
      { $set: { state: 'queued', leaseOwner: null, leaseUntil: null }, $inc: { attempts: -1 } },
    );
    log.debug({ registry: job.repository, digest: job.digest, cap }, 'registry at its scan cap; job given back');
    return null;
  }

  /** Registries with `cap` or more running jobs whose lease is live. */
  async function registriesAtCap(now: Date, cap: number): Promise<string[]> {
    const running = await ScanJobModel.aggregate<{ _id: string; n: number }>([
      { $match: { state: 'running', leaseUntil: { $gte: now } } },
      { $group: { _id: '$repository', n: { $sum: 1 } } },
    ]);
    return running.filter((r) => r.n >= cap).map((r) => r._id);
  }

  async function scanOnce(job: ScanJobDoc, claimMs = 0): Promise<void> {
    const ctx = { log: log.child({ digest: job.digest, registry: job.repository, image: job.image }) };
    const started = Date.now();
    // Milliseconds per stage of this scan, logged with "image scanned" (the bench's profile, issue 16).
    const stages: Record<string, number> = { claim: claimMs };
    let lapStart = started;
    const lap = (stage: string) => {
      const t = Date.now();
      stages[stage] = t - lapStart;
      lapStart = t;
    };
    // Every write of this job's results and state is guarded by this claim: the owner AND the claim's
    // generation (a takeover, even by another loop of this instance, moves claimSeq on).
    const claimed = { _id: job._id, leaseOwner: deps.instance, claimSeq: job.claimSeq ?? 0 };
    const aborter = new AbortController();
    const lost = () => new ClaimLostError(`scan job of ${job.digest} was taken over; this scan stops`);
    /** Throws ClaimLostError when the heartbeat lost the claim or the job is no longer ours (checked in the database). */
    const assertOwned = async () => {
      if (aborter.signal.aborted) throw lost();
      if (!(await ScanJobModel.exists({ ...claimed, state: 'running' }))) {
        aborter.abort();
        throw lost();
      }
    };
    const heartbeat = setInterval(
      () => {
        ScanJobModel.updateOne(
          { ...claimed, state: 'running' },
          { $set: { leaseUntil: new Date(Date.now() + deps.scan.leaseMs) } },
        ).then(
          (res) => {
            // Taken over (our lease had expired): stop at once, before anything is stored.
            if (res.matchedCount === 0 && !aborter.signal.aborted) {
              ctx.log.warn('scan job lease lost; aborting the scan');
              aborter.abort();
            }
          },
          (err: unknown) => ctx.log.warn({ err: (err as Error).message }, 'lease renewal failed'),
        );
      },
      Math.max(200, Math.floor(deps.scan.leaseMs / 3)),
    );
    heartbeat.unref();
    try {
      // Claimed: its images show `scanning` (or keep their results). The claim is the job's own
      // record; a crash before this recompute leaves a running job whose next claim recomputes.
      await recomputeImages([job.digest], ctx);
      const { client } = await untilAborted(deps.registries.clientFor(job.repository, ctx), aborter.signal, lost);
      const fetched = await untilAborted(client.getManifest(job.image, job.digest, ctx), aborter.signal, lost);
      if (fetched.manifest.kind !== 'image') {
        throw new RegistryError(`${job.image}@${job.digest} is an index, not an image manifest`);
      }
      // A token that outlives the whole indexing (Clair fetches layers with it).
      const headers = await untilAborted(
        client.pullHeaders(job.image, ctx, Math.ceil(deps.clairIndexTimeoutMs / 1000) + 60),
        aborter.signal,
        lost,
      );
      const input: ScanInput = {
        manifestDigest: job.digest,
        layers: fetched.manifest.layers.map((l) => ({
          digest: l.digest,
          uri: client.blobUrl(job.image, l.digest),
          headers,
          mediaType: l.mediaType,
        })),
      };
      lap('prepare');
      const report = await untilAborted(deps.clair.scan(input, ctx), aborter.signal, lost);
      const indexState = deps.clair.indexState ? await deps.clair.indexState(ctx).catch(() => null) : null;
      lap('clair');
      const now = new Date();
      const stored = await storeReport(
        job.digest,
        report,
        {
          batchSize: deps.scan.findingsBatchSize,
          now,
          // Right before the first finding is written: still ours, and the images marked dirty.
          beforeWrite: async () => {
            await assertOwned();
            await markImagesDirty([job.digest]);
          },
        },
        ctx,
      );
      lap('store');
      // The result first (the job still `running`, which shows as done once it has a result), then
      // the images derived from it, then `done`: a crash between leaves a running job whose lease
      // expires and which is scanned again, and the marker makes the drainer recompute its images.
      await assertOwned();
      await markImagesDirty([job.digest]);
      const recorded = await ScanJobModel.updateOne(
        { ...claimed, state: 'running' },
        {
          $set: {
            result: stored.summary,
            indexState,
            lastError: null,
            scannedAt: now,
            firstScannedAt: job.firstScannedAt ?? now,
          },
        },
      );
      if (recorded.matchedCount === 0) throw lost();
      await recomputeImages([job.digest], ctx);
      lap('derive');
      await recordScan(job.digest, now);
      lap('history');
      const owned = await ScanJobModel.updateOne(
        { ...claimed, state: 'running' },
        {
          $set: {
            state: 'done',
            leaseOwner: null,
            leaseUntil: null,
            finishedAt: now,
            durationMs: Date.now() - started,
          },
        },
      );
      lap('done');
      // Off the scan's path: the derivation is shared with other scans' hints (drain() waits for it).
      const alerting = deps.alerts?.newFindings(job.digest, stored.newFindings, ctx);
      if (alerting) {
        background.add(alerting);
        const done = () => void background.delete(alerting);
        alerting.then(done, (err: unknown) => {
          done();
          ctx.log.warn({ err: (err as Error).message }, 'alert hint failed; the periodic pass derives it');
        });
      }
      scanDurationHistogram.observe((Date.now() - started) / 1000);
      ctx.log.info(
        {
          findings: stored.summary.findings,
          new: stored.inserted,
          fixed: stored.fixed,
          packages: stored.summary.packages,
          ms: Date.now() - started,
          ownedToTheEnd: owned.matchedCount === 1,
          stages,
        },
        'image scanned',
      );
    } catch (err) {
      if (err instanceof ClaimLostError || aborter.signal.aborted) {
        // Another instance owns the job now: nothing of this attempt is written.
        ctx.log.warn({ err: (err as Error).message }, 'scan abandoned: the job was taken over');
        return;
      }
      const final = permanent(err) || job.attempts >= deps.scan.maxAttempts;
      const msg = message(err);
      if (!(err instanceof AppError)) ctx.log.error({ err }, 'scan failed with an unexpected error');
      // The job's state is what the images derive from (a digest with results keeps showing them).
      await markImagesDirty([job.digest]);
      if (final) {
        await ScanJobModel.updateOne(claimed, {
          $set: { state: 'failed', lastError: msg, leaseOwner: null, leaseUntil: null, finishedAt: new Date() },
        });
        ctx.log.warn({ attempts: job.attempts, err: msg }, 'scan failed');
      } else {
        const delay = deps.scan.retryBaseMs * 2 ** (job.attempts - 1);
        await ScanJobModel.updateOne(claimed, {
          $set: {
            state: 'queued',
            lastError: msg,
            leaseOwner: null,
            leaseUntil: null,
            notBefore: new Date(Date.now() + delay),
          },
        });
        ctx.log.warn({ attempts: job.attempts, retryInMs: delay, err: msg }, 'scan failed; will retry');
      }
      await recomputeImages([job.digest], ctx);
    } finally {
      clearInterval(heartbeat);
    }
    await logProgress(job.repository);
  }

  async function logProgress(repository: string): Promise<void> {
    try {
      const states = await ScanJobModel.aggregate<{ _id: string; n: number }>([
        { $match: { repository } },
        { $group: { _id: '$state', n: { $sum: 1 } } },
      ]);
      const by: Record<string, number> = { queued: 0, running: 0, done: 0, failed: 0 };
      for (const s of states) by[s._id] = s.n;
      for (const [state, n] of Object.entries(by)) scanJobsGauge.set({ state }, n);
      const total = by.queued! + by.running! + by.done! + by.failed!;
      log.info(
        { registry: repository, ...by, percent: total ? Math.round(((by.done! + by.failed!) / total) * 100) : 100 },
        'scan progress',
      );
    } catch {
      // Progress lines are best effort.
    }
  }

  async function runOnce(): Promise<boolean> {
    const claimStarted = Date.now();
    const job = await claim();
    if (!job) return false;
    const p = scanOnce(job, Date.now() - claimStarted);
    inFlight.add(p);
    try {
      await p;
    } finally {
      inFlight.delete(p);
    }
    return true;
  }

  const loops = createPollLoops({
    count: deps.scan.concurrency,
    pollMs: deps.scan.pollMs,
    runOnce,
    onError: (err) => log.error({ err: (err as Error).message }, 'scan worker could not claim a job (database?)'),
  });

  return {
    start() {
      if (loops.running) return;
      loops.start();
      log.info({ concurrency: deps.scan.concurrency, instance: deps.instance }, 'scan worker started');
    },
    async stop(graceMs = 5000) {
      await loops.stop(graceMs);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...background]).catch(() => undefined),
        new Promise((r) => (timer = setTimeout(r, graceMs).unref())),
      ]);
      clearTimeout(timer);
    },
    wake: () => loops.wake(),
    runOnce,
    async drain(timeoutMs) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const pending = await ScanJobModel.countDocuments({ state: { $in: ['queued', 'running'] } });
        if (pending === 0 && inFlight.size === 0) {
          await Promise.all([...background]);
          return;
        }
        if (Date.now() > until) throw new Error(`scan jobs still pending after ${timeoutMs} ms`);
        if (!loops.running) await runOnce();
        else await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

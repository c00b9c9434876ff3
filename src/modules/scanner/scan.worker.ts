import type { ClairClient, ScanInput } from '../../clients/clair';
import type { Config } from '../../config';
import { AppError, NotFoundError, ParameterError, RegistryError } from '../../errors/app-error';
import type { Logger } from '../../logger';
import { scanDurationHistogram, scanJobsGauge } from '../../metrics';
import { ImageModel } from '../images';
import type { RegistriesService } from '../registries';
import * as scoreService from '../score/score.service';
import { applySummary, storeReport } from './findings.store';
import { ScanClaimModel, ScanJobModel, type ScanJobDoc } from './scan-job.model';

/** Jobs read per claim: enough that instances racing for the first one still find another. */
const CLAIM_CANDIDATES = 5;

export interface WorkerDeps {
  registries: RegistriesService;
  clair: ClairClient;
  scan: Config['scan'];
  clairIndexTimeoutMs: number;
  logger: Logger;
  instance: string;
}

export interface ScanWorker {
  start(): void;
  /** Stops claiming; waits for scans in flight up to `graceMs`, then leaves them to be taken over. */
  stop(graceMs?: number): Promise<void>;
  /** Claims and runs one job now; false when none was claimable (tests and benches). */
  runOnce(): Promise<boolean>;
  /** Resolves when no job is claimable and none is running here. */
  drain(timeoutMs: number): Promise<void>;
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
 * a dead instance's) with a single atomic findOneAndUpdate, renewing the lease while Clair works,
 * and writing the outcome only while it still owns the job.
 */
export function createScanWorker(deps: WorkerDeps): ScanWorker {
  const log = deps.logger.child({ component: 'scan-worker' });
  let running = false;
  const loops: Array<Promise<void>> = [];
  const inFlight = new Set<Promise<unknown>>();
  let wake: (() => void) | null = null;

  /**
   * Claims one claimable job: reads a few candidates, then takes the first whose next claim token
   * it can insert (see ScanClaimModel); only then marks the job running under its lease. Two
   * instances reading the same candidate race for the same token, and exactly one gets it.
   */
  async function claim(): Promise<ScanJobDoc | null> {
    const now = new Date();
    const candidates = await ScanJobModel.find(
      {
        $or: [
          { state: 'queued', notBefore: { $lte: now } },
          { state: 'running', leaseUntil: { $lt: now } },
        ],
      },
      { _id: 1, claims: 1 },
    )
      .sort({ notBefore: 1 })
      .limit(CLAIM_CANDIDATES)
      .lean<Array<Pick<ScanJobDoc, '_id' | 'claims'>>>();
    for (const c of candidates) {
      const n = (c.claims ?? 0) + 1;
      const token = `${String(c._id)}:${n}`;
      try {
        await ScanClaimModel.collection.insertOne({ _id: token as never, owner: deps.instance, at: now });
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
        // Another instance claimed it first. A token older than a lease whose job was never marked
        // running belongs to an instance that died in between: drop it so that a later poll can claim.
        await ScanClaimModel.deleteOne({ _id: token, at: { $lt: new Date(now.getTime() - deps.scan.leaseMs) } });
        continue;
      }
      await ScanClaimModel.deleteOne({ _id: `${String(c._id)}:${n - 1}` }).catch(() => undefined);
      return ScanJobModel.findOneAndUpdate(
        { _id: c._id },
        {
          $set: {
            state: 'running',
            leaseOwner: deps.instance,
            leaseUntil: new Date(now.getTime() + deps.scan.leaseMs),
            startedAt: now,
            claims: n,
          },
          $inc: { attempts: 1 },
        },
        { returnDocument: 'after' },
      ).lean<ScanJobDoc>();
    }
    return null;
  }

  async function scanOnce(job: ScanJobDoc): Promise<void> {
    const ctx = { log: log.child({ digest: job.digest, registry: job.repository, image: job.image }) };
    const started = Date.now();
    await ImageModel.updateMany(
      { digest: job.digest, scanStatus: { $ne: 'done' } },
      { $set: { scanStatus: 'scanning' } },
    );
    const heartbeat = setInterval(
      () => {
        ScanJobModel.updateOne(
          { _id: job._id, leaseOwner: deps.instance, state: 'running' },
          { $set: { leaseUntil: new Date(Date.now() + deps.scan.leaseMs) } },
        ).catch((err: unknown) => ctx.log.warn({ err: (err as Error).message }, 'lease renewal failed'));
      },
      Math.max(200, Math.floor(deps.scan.leaseMs / 3)),
    );
    heartbeat.unref();
    try {
      const { client } = await deps.registries.clientFor(job.repository, ctx);
      const fetched = await client.getManifest(job.image, job.digest, ctx);
      if (fetched.manifest.kind !== 'image') {
        throw new RegistryError(`${job.image}@${job.digest} is an index, not an image manifest`);
      }
      // A token that outlives the whole indexing (Clair fetches layers with it).
      const headers = await client.pullHeaders(job.image, ctx, Math.ceil(deps.clairIndexTimeoutMs / 1000) + 60);
      const input: ScanInput = {
        manifestDigest: job.digest,
        layers: fetched.manifest.layers.map((l) => ({
          digest: l.digest,
          uri: client.blobUrl(job.image, l.digest),
          headers,
          mediaType: l.mediaType,
        })),
      };
      const report = await deps.clair.scan(input, ctx);
      const indexState = deps.clair.indexState ? await deps.clair.indexState(ctx).catch(() => null) : null;
      const now = new Date();
      const stored = await storeReport(job.digest, report, { batchSize: deps.scan.findingsBatchSize, now }, ctx);
      const owned = await ScanJobModel.updateOne(
        { _id: job._id, leaseOwner: deps.instance },
        {
          $set: {
            state: 'done',
            lastError: null,
            leaseOwner: null,
            leaseUntil: null,
            finishedAt: now,
            durationMs: Date.now() - started,
            result: stored.summary,
            indexState,
          },
        },
      );
      await applySummary(job.digest, stored.summary, await scoreService.get(), now);
      scanDurationHistogram.observe((Date.now() - started) / 1000);
      ctx.log.info(
        {
          findings: stored.summary.findings,
          new: stored.inserted,
          fixed: stored.fixed,
          packages: stored.summary.packages,
          ms: Date.now() - started,
          ownedToTheEnd: owned.matchedCount === 1,
        },
        'image scanned',
      );
    } catch (err) {
      const final = permanent(err) || job.attempts >= deps.scan.maxAttempts;
      const msg = message(err);
      if (!(err instanceof AppError)) ctx.log.error({ err }, 'scan failed with an unexpected error');
      if (final) {
        await ScanJobModel.updateOne(
          { _id: job._id, leaseOwner: deps.instance },
          { $set: { state: 'failed', lastError: msg, leaseOwner: null, leaseUntil: null, finishedAt: new Date() } },
        );
        await ImageModel.updateMany({ digest: job.digest }, { $set: { scanStatus: 'failed', scanError: msg } });
        ctx.log.warn({ attempts: job.attempts, err: msg }, 'scan failed');
      } else {
        const delay = deps.scan.retryBaseMs * 2 ** (job.attempts - 1);
        await ScanJobModel.updateOne(
          { _id: job._id, leaseOwner: deps.instance },
          {
            $set: {
              state: 'queued',
              lastError: msg,
              leaseOwner: null,
              leaseUntil: null,
              notBefore: new Date(Date.now() + delay),
            },
          },
        );
        await ImageModel.updateMany(
          { digest: job.digest, scanStatus: 'scanning' },
          { $set: { scanStatus: 'pending' } },
        );
        ctx.log.warn({ attempts: job.attempts, retryInMs: delay, err: msg }, 'scan failed; will retry');
      }
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
    const job = await claim();
    if (!job) return false;
    const p = scanOnce(job);
    inFlight.add(p);
    try {
      await p;
    } finally {
      inFlight.delete(p);
    }
    return true;
  }

  async function loop(): Promise<void> {
    while (running) {
      let worked = false;
      try {
        worked = await runOnce();
      } catch (err) {
        log.error({ err: (err as Error).message }, 'scan worker could not claim a job (database?)');
      }
      if (!worked && running) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, deps.scan.pollMs);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = null;
      }
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      for (let i = 0; i < deps.scan.concurrency; i++) loops.push(loop());
      log.info({ concurrency: deps.scan.concurrency, instance: deps.instance }, 'scan worker started');
    },
    async stop(graceMs = 5000) {
      running = false;
      wake?.();
      const all = Promise.allSettled(loops.splice(0));
      await Promise.race([all, new Promise((r) => setTimeout(r, graceMs).unref())]);
    },
    runOnce,
    async drain(timeoutMs) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const pending = await ScanJobModel.countDocuments({ state: { $in: ['queued', 'running'] } });
        if (pending === 0 && inFlight.size === 0) return;
        if (Date.now() > until) throw new Error(`scan jobs still pending after ${timeoutMs} ms`);
        if (!running) await runOnce();
        else await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

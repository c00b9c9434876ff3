import { claimOne } from '../../db/claim';
import { AppError } from '../../errors/app-error';
import { createPollLoops } from '../../jobs/poll-loops';
import type { Logger } from '../../logger';
import { InboxModel, ReceiptModel, type InboxDoc } from './webhook-inbox.model';
import type { WebhooksService } from './webhooks.service';

export interface InboxWorkerDeps {
  service: Pick<WebhooksService, 'process'>;
  logger: Logger;
  instance: string;
  /** Sleep between looks when the inbox is empty. */
  pollMs: number;
  /** Done and failed events are deleted after this long (re-deliveries within it stay duplicates). */
  retentionHours: number;
  /** How long a claimed event stays owned; a dead instance's events are taken over after it. */
  leaseMs?: number;
}

export interface InboxWorker {
  start(): void;
  stop(graceMs?: number): Promise<void>;
  /** Claims and processes one due event as of `now`; false when none was due (tests drive it). */
  runOnce(now?: Date): Promise<boolean>;
  /** Processes due events until none is left; returns how many were claimed. */
  drain(): Promise<number>;
  /** Deletes done and failed events older than the retention; returns how many. */
  purge(now?: Date): Promise<number>;
}

/** Parallel discoveries per instance: a slow registry holds one loop, not the others. */
const LOOPS = 2;
const MAX_ATTEMPTS = 8;
const RETRY_BASE_MS = 2000;
const MAX_RETRY_MS = 300_000;
const PURGE_EVERY_MS = 600_000;
const RECEIVING_STALE_MS = 60_000;

/**
 * The webhook inbox worker: loops that claim one stored push each (src/db/claim.ts, so two instances
 * never process the same event at once), discover it through the webhooks service, and record the
 * outcome. Events of the same tag and registry received before that discovery started are marked
 * done with it (`coalesced`): a burst of pushes of one tag costs one discovery. A failure (registry
 * down, database away) is retried with exponential backoff, up to MAX_ATTEMPTS; a malformed event
 * (5003) fails at once.
 */
export function createInboxWorker(deps: InboxWorkerDeps): InboxWorker {
  const log = deps.logger.child({ component: 'webhook-inbox' });
  const leaseMs = deps.leaseMs ?? 120_000;
  let purgeTimer: NodeJS.Timeout | null = null;

  function claim(now: Date): Promise<InboxDoc | null> {
    return claimOne<InboxDoc>(InboxModel as never, {
      scope: 'inbox',
      owner: deps.instance,
      staleMs: leaseMs,
      filter: {
        $or: [
          { state: 'pending', notBefore: { $lte: now } },
          { state: 'running', leaseUntil: { $lt: now } },
          // Left between storing and its receipts by a crash: processed rather than lost.
          { state: 'receiving', createdAt: { $lt: new Date(now.getTime() - RECEIVING_STALE_MS) } },
        ],
      },
      sort: { notBefore: 1 },
      update: {
        $set: { state: 'running', leaseOwner: deps.instance, leaseUntil: new Date(now.getTime() + leaseMs) },
        $inc: { attempts: 1 },
      },
      now,
    });
  }

  async function finish(d: InboxDoc, set: Record<string, unknown>): Promise<void> {
    await InboxModel.updateOne(
      { _id: d._id, leaseOwner: deps.instance, state: 'running' },
      { $set: { ...set, leaseOwner: null, leaseUntil: null } },
    );
  }

  async function runOnce(now = new Date()): Promise<boolean> {
    const d = await claim(now);
    if (!d) return false;
    const started = new Date();
    const ctx = { log: log.child({ item: String(d._id), events: d.eventIds.length }) };
    try {
      const r = await deps.service.process(d, ctx);
      await finish(d, { state: 'done', ...r, lastError: null });
      // Pushes of this tag received before the discovery started are served by it.
      const coalesced = await InboxModel.updateMany(
        { target: d.target, state: 'pending', _id: { $ne: d._id }, createdAt: { $lte: started } },
        { $set: { state: 'done', outcome: 'coalesced', registry: r.registry } },
      );
      ctx.log.debug(
        { ...r, image: d.image, tag: d.tag, coalesced: coalesced.modifiedCount, ms: Date.now() - started.getTime() },
        'webhook event processed',
      );
    } catch (err) {
      const message = err instanceof AppError ? err.message : 'internal error';
      const permanent = err instanceof AppError && err.code === 5003;
      if (permanent || d.attempts >= MAX_ATTEMPTS) {
        await finish(d, { state: 'failed', lastError: message });
        ctx.log.warn(
          { image: d.image, tag: d.tag, attempts: d.attempts, err: message },
          'webhook event failed for good',
        );
      } else {
        const delay = Math.min(RETRY_BASE_MS * 2 ** (d.attempts - 1), MAX_RETRY_MS);
        await finish(d, { state: 'pending', lastError: message, notBefore: new Date(now.getTime() + delay) });
        ctx.log.warn(
          { image: d.image, tag: d.tag, attempts: d.attempts, err: message, retryInMs: delay },
          'webhook event failed; will retry',
        );
      }
      if (!(err instanceof AppError)) log.error({ err }, 'webhook event processing hit an unexpected error');
    }
    return true;
  }

  async function purge(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - deps.retentionHours * 3_600_000);
    const res = await InboxModel.deleteMany({ state: { $in: ['done', 'failed'] }, updatedAt: { $lt: cutoff } });
    const receipts = await ReceiptModel.deleteMany({ at: { $lt: cutoff } });
    if (res.deletedCount || receipts.deletedCount)
      log.info({ items: res.deletedCount, receipts: receipts.deletedCount }, 'old webhook events deleted');
    return res.deletedCount;
  }

  const loops = createPollLoops({
    count: LOOPS,
    pollMs: deps.pollMs,
    runOnce: () => runOnce(),
    onError: (err) => log.error({ err: (err as Error).message }, 'webhook inbox worker could not claim (database?)'),
  });

  return {
    start() {
      if (loops.running) return;
      loops.start();
      purgeTimer = setInterval(() => {
        purge().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'webhook inbox purge failed'));
      }, PURGE_EVERY_MS);
      purgeTimer.unref();
      log.info({ loops: LOOPS }, 'webhook inbox worker started');
    },
    async stop(graceMs = 5000) {
      if (purgeTimer) clearInterval(purgeTimer);
      purgeTimer = null;
      await loops.stop(graceMs);
    },
    runOnce,
    async drain() {
      let n = 0;
      while (await runOnce()) n++;
      return n;
    },
    purge,
  };
}

import { createHmac } from 'node:crypto';
import { egressDenial, outboundFor, type Outbound } from '../../clients/http/outbound';
import type { Config } from '../../config';
import { claimOne } from '../../db/claim';
import { createPeriodic, type Periodic } from '../../jobs/periodic';
import { createPollLoops } from '../../jobs/poll-loops';
import { acquireLease, releaseLease } from '../../db/lease';
import type { Logger } from '../../logger';
import { DeliveryModel, type DeliveryDoc } from './alerts.model';
import { urlForLogs, type AlertsService } from './alerts.service';

export interface AlertWorkerDeps {
  service: Pick<AlertsService, 'secretOf'>;
  alerts: Config['alerts'];
  logger: Logger;
  instance: string;
  /** Egress policy and reply caps (OUTBOUND_*, EGRESS_*); the defaults when absent. */
  outbound?: Outbound;
}

export interface AlertWorker {
  start(): void;
  stop(graceMs?: number): Promise<void>;
  /** Claims and attempts one due delivery as of `now`; false when none was due (tests drive the clock with it). */
  runOnce(now?: Date): Promise<boolean>;
  /** Deletes delivered and failed deliveries older than ALERT_RETENTION_DAYS; returns how many. */
  purgeFinished(now?: Date): Promise<number>;
}

/** Parallel deliveries per instance: a slow receiver holds one loop, not the others. */
const LOOPS = 4;
const MAX_DELAY_MS = 3_600_000;
const PURGE_EVERY_MS = 3_600_000;
const PURGE_LEASE = 'alert-outbox-purge';

/** `sha256=<hex>` of HMAC-SHA256(secret, body): what X-Vulnscan-Signature carries. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** Statuses another attempt will not change (4xx other than 408 and 429). */
function permanentStatus(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/**
 * The alert delivery worker: loops that claim one due delivery each with an atomic
 * claim with a lease (src/db/claim.ts: several instances never send the same one twice at once), POST it
 * with a timeout, and record delivered, a retry with exponential backoff, or failed after
 * ALERT_MAX_ATTEMPTS. A lease left by a dead instance expires and the delivery is taken over.
 */
export function createAlertWorker(deps: AlertWorkerDeps): AlertWorker {
  const log = deps.logger.child({ component: 'alert-worker' });
  const leaseMs = deps.alerts.timeoutMs + 30_000;
  const outbound = deps.outbound ?? outboundFor();
  // Agents, egress policy, total deadline, reply cap and no proxy come from the outbound layer.
  const http = outbound.client(
    { timeoutMs: deps.alerts.timeoutMs, maxResponseBytes: outbound.settings.maxApiResponseBytes },
    {
      maxRedirects: 0,
      // The body goes out as the exact stored bytes that were signed.
      transformRequest: [(data: unknown) => data],
      responseType: 'text',
      validateStatus: () => true,
    },
  );
  let purger: Periodic | null = null;

  async function purgeFinished(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - deps.alerts.retentionDays * 86_400_000);
    const res = await DeliveryModel.deleteMany({ state: { $in: ['delivered', 'failed'] }, updatedAt: { $lt: cutoff } });
    if (res.deletedCount) log.info({ deleted: res.deletedCount }, 'old alert deliveries deleted');
    return res.deletedCount;
  }

  /** One instance an hour (whoever takes the lease) trims the outbox. */
  async function purgeTick(): Promise<void> {
    const lease = await acquireLease(PURGE_LEASE, deps.instance, 10 * 60_000);
    if (!lease) return;
    try {
      await purgeFinished();
    } finally {
      await releaseLease(lease);
    }
  }

  async function claim(now: Date): Promise<DeliveryDoc | null> {
    return claimOne<DeliveryDoc>(DeliveryModel as never, {
      scope: 'delivery',
      owner: deps.instance,
      staleMs: leaseMs,
      filter: {
        $or: [
          { state: 'pending', notBefore: { $lte: now } },
          { state: 'sending', leaseUntil: { $lt: now } },
        ],
      },
      sort: { notBefore: 1 },
      update: {
        $set: { state: 'sending', leaseOwner: deps.instance, leaseUntil: new Date(now.getTime() + leaseMs) },
        $inc: { attempts: 1 },
      },
      now,
    });
  }

  async function finish(d: DeliveryDoc, set: Record<string, unknown>): Promise<void> {
    await DeliveryModel.updateOne(
      { _id: d._id, leaseOwner: deps.instance, state: 'sending' },
      { $set: { ...set, leaseOwner: null, leaseUntil: null } },
    );
  }

  async function attempt(d: DeliveryDoc, now: Date): Promise<void> {
    const started = Date.now();
    const where = { delivery: String(d._id), event: d.eventId, receiver: urlForLogs(d.url), attempt: d.attempts };
    let status: number | null = null;
    let error: string | null = null;
    try {
      const secret = await deps.service.secretOf(d.receiver);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'vulnscan-alerts/1',
        // The event id is the idempotency key: the same on every attempt, and on a re-send after this
        // instance died mid-delivery (the one duplicate the outbox cannot rule out; receivers dedupe on it).
        'x-vulnscan-event': d.eventId,
        'idempotency-key': d.eventId,
        'x-vulnscan-timestamp': String(Math.floor(Date.now() / 1000)),
      };
      if (secret) headers['x-vulnscan-signature'] = signBody(secret, d.body);
      const res = await http.post(d.url, d.body, { headers });
      status = res.status;
      if (status < 200 || status >= 300) error = `receiver answered HTTP ${status}`;
    } catch (err) {
      const e = err as { code?: string; message?: string; name?: string };
      if (e.name === 'NotFoundError') {
        await finish(d, { state: 'failed', lastError: e.message ?? 'receiver deleted', lastStatus: null });
        log.warn({ ...where }, 'alert dropped: its webhook was deleted');
        return;
      }
      // Axios errors carry the URL and config (headers with the signature): keep only the code.
      const denied = egressDenial(err);
      error = denied
        ? `refused to connect: ${denied.message}`
        : e.code === 'ECONNABORTED'
          ? 'timed out'
          : (e.code ?? 'request failed');
    }
    const ms = Date.now() - started;
    if (!error) {
      await finish(d, { state: 'delivered', lastStatus: status, lastError: null, deliveredAt: new Date() });
      log.info({ ...where, status, ms }, 'alert delivered');
      return;
    }
    const final = d.attempts >= deps.alerts.maxAttempts || (status !== null && permanentStatus(status));
    if (final) {
      await finish(d, { state: 'failed', lastStatus: status, lastError: error });
      log.warn({ ...where, status, err: error, ms }, 'alert delivery failed for good');
    } else {
      const delay = Math.min(deps.alerts.retryBaseMs * 2 ** (d.attempts - 1), MAX_DELAY_MS);
      await finish(d, {
        state: 'pending',
        lastStatus: status,
        lastError: error,
        notBefore: new Date(now.getTime() + delay),
      });
      log.warn({ ...where, status, err: error, ms, retryInMs: delay }, 'alert delivery failed; will retry');
    }
  }

  async function runOnce(now = new Date()): Promise<boolean> {
    const d = await claim(now);
    if (!d) return false;
    await attempt(d, now);
    return true;
  }

  const loops = createPollLoops({
    count: LOOPS,
    pollMs: deps.alerts.pollMs,
    runOnce: () => runOnce(),
    onError: (err, failures) =>
      log.warn(
        { task: 'alert-delivery', err: (err as Error).message, failures },
        'alert worker could not claim a delivery',
      ),
  });

  return {
    start() {
      if (loops.running) return;
      loops.start();
      purger = createPeriodic({ name: 'alert-retention', everyMs: PURGE_EVERY_MS, run: purgeTick, log });
      purger.start();
      log.info({ loops: LOOPS }, 'alert worker started');
    },
    async stop(graceMs = 5000) {
      const p = purger;
      purger = null;
      await Promise.all([p?.stop(), loops.stop(graceMs)]);
    },
    runOnce,
    purgeFinished,
  };
}

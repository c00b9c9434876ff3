import type { Config } from '../../config';
import { acquireLease, keepLease, releaseLease } from '../../db/lease';
import { NotFoundError, ParameterError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import { createPeriodic, type Periodic } from '../../jobs/periodic';
import type { Logger } from '../../logger';
import type { RegistriesService } from '../registries';
import { SuppressionModel, type SuppressionDoc } from './suppression.model';
import type { ListSuppressionsQuery, SuppressionBody, SuppressionView } from './suppressions.schemas';
import { markCvesImagesDirty, recountCves } from './suppressions.recount';

export interface SuppressionsDeps {
  registries: RegistriesService;
  suppressions: Config['suppressions'];
  logger: Logger;
  instance: string;
}

export interface SuppressionsService {
  list(q: ListSuppressionsQuery): Promise<{ docs: SuppressionView[]; count: number }>;
  /** Throws NotFoundError (5004). */
  get(id: string): Promise<SuppressionView>;
  /** Validates the target (unknown registry: 5004) and the expiry (past: 5003), stores, then recounts the affected images. */
  create(body: SuppressionBody, ctx: Ctx): Promise<SuppressionView>;
  /** Replaces the user fields; throws NotFoundError, ParameterError. */
  update(id: string, body: SuppressionBody, ctx: Ctx): Promise<SuppressionView>;
  /** Deletes and recounts; returns the deleted suppression. Throws NotFoundError. */
  remove(id: string, ctx: Ctx): Promise<SuppressionView>;
  /** Deactivates expired suppressions and recounts their images; returns how many expired. */
  sweepExpired(ctx: Ctx, now?: Date): Promise<number>;
  /** Runs the expiry sweep every SUPPRESSION_SWEEP_MS on the instance holding its lease. */
  start(): void;
  stop(): Promise<void>;
}

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export function toSuppressionView(d: SuppressionDoc): SuppressionView {
  return {
    _id: String(d._id),
    cveId: d.cveId,
    scope: d.scope,
    repository: d.repository ?? null,
    image: d.image ?? null,
    tag: d.tag ?? null,
    reason: d.reason,
    author: d.author,
    expiresAt: iso(d.expiresAt),
    active: d.active !== false,
    createdAt: iso(d.createdAt)!,
    updatedAt: iso(d.updatedAt)!,
  };
}

const LEASE = 'suppression-expiry';
/** Digests recounted per batch. */
const RECOUNT_BATCH = 100;

export function createSuppressionsService(deps: SuppressionsDeps): SuppressionsService {
  const log = deps.logger.child({ component: 'suppressions' });
  let sweeper: Periodic | null = null;

  /** The stored form of a body: the registry resolved to its key, the expiry checked against now. */
  async function fieldsOf(body: SuppressionBody, now: Date) {
    if (body.expiresAt && body.expiresAt.getTime() <= now.getTime()) {
      throw new ParameterError('body.expiresAt: must be in the future');
    }
    const repository = body.repository ? (await deps.registries.resolve(body.repository)).key : null;
    return {
      cveId: body.cveId,
      scope: body.scope,
      repository,
      image: body.image ?? null,
      tag: body.tag ?? null,
      reason: body.reason,
      author: body.author,
      expiresAt: body.expiresAt ?? null,
      active: true,
    };
  }

  async function find(id: string): Promise<SuppressionDoc> {
    const doc = await SuppressionModel.findById(id).lean<SuppressionDoc>();
    if (!doc) throw new NotFoundError(`suppression ${id} not found`);
    return doc;
  }

  /** Marks the images a change of these CVEs' suppressions affects: before the write (src/modules/images). */
  async function markBefore(cveIds: string[]): Promise<void> {
    await markCvesImagesDirty(cveIds, { batchSize: RECOUNT_BATCH });
  }

  /** Recomputes those images after the write. */
  async function recount(cveIds: string[], ctx: Ctx): Promise<void> {
    await recountCves(cveIds, { batchSize: RECOUNT_BATCH }, ctx);
  }

  async function sweepExpired(ctx: Ctx, now = new Date()): Promise<number> {
    const expired = await SuppressionModel.find({ active: true, expiresAt: { $lte: now } }, { cveId: 1 }).lean<
      Array<Pick<SuppressionDoc, '_id' | 'cveId'>>
    >();
    if (!expired.length) return 0;
    // Recount first (the counts already ignore expired suppressions), then flip: when the recount
    // fails, the suppressions stay active and the next sweep tries again.
    await markBefore(expired.map((s) => s.cveId));
    await recount(
      expired.map((s) => s.cveId),
      ctx,
    );
    ctx.signal?.throwIfAborted();
    await SuppressionModel.updateMany(
      { _id: { $in: expired.map((s) => s._id) }, active: true, expiresAt: { $lte: now } },
      { $set: { active: false } },
    );
    ctx.log.info({ expired: expired.length }, 'suppressions expired');
    return expired.length;
  }

  // A failure (the database away, even while taking the lease) rejects; the periodic runner logs
  // it under the task's name and backs off.
  // The lease is short and renewed while the sweep runs: a claim cut off by an outage blocks the
  // sweep for at most this long after the database is back.
  async function tick(): Promise<void> {
    const leaseMs = Math.max(10_000, deps.suppressions.sweepMs * 2);
    const lease = await acquireLease(LEASE, deps.instance, leaseMs);
    if (!lease) return;
    const renew = keepLease(lease, leaseMs, log);
    try {
      await sweepExpired({ log, signal: renew.signal });
    } finally {
      await renew.stop();
      await releaseLease(lease).catch(() => undefined);
    }
  }

  return {
    async list(q) {
      const filter: Record<string, unknown> = {};
      if (q.cveId) filter.cveId = q.cveId;
      if (q.active !== undefined) filter.active = q.active;
      const [docs, count] = await Promise.all([
        SuppressionModel.find(filter)
          .sort({ createdAt: -1, _id: -1 })
          .skip(q.from)
          .limit(q.size)
          .lean<SuppressionDoc[]>(),
        SuppressionModel.countDocuments(filter),
      ]);
      return { docs: docs.map(toSuppressionView), count };
    },

    async get(id) {
      return toSuppressionView(await find(id));
    },

    async create(body, ctx) {
      const fields = await fieldsOf(body, new Date());
      await markBefore([fields.cveId]);
      const created = await SuppressionModel.create(fields);
      await recount([created.cveId], ctx);
      ctx.log.info(
        { suppression: String(created._id), cveId: created.cveId, scope: created.scope },
        'suppression created',
      );
      return toSuppressionView(created.toObject() as SuppressionDoc);
    },

    async update(id, body, ctx) {
      const old = await find(id);
      const fields = await fieldsOf(body, new Date());
      await markBefore([old.cveId, fields.cveId]);
      const updated = await SuppressionModel.findByIdAndUpdate(
        id,
        { $set: fields },
        { returnDocument: 'after' },
      ).lean<SuppressionDoc>();
      if (!updated) throw new NotFoundError(`suppression ${id} not found`);
      await recount([old.cveId, updated.cveId], ctx);
      ctx.log.info({ suppression: id, cveId: updated.cveId, scope: updated.scope }, 'suppression updated');
      return toSuppressionView(updated);
    },

    async remove(id, ctx) {
      const existing = await find(id);
      await markBefore([existing.cveId]);
      const doc = await SuppressionModel.findByIdAndDelete(id).lean<SuppressionDoc>();
      if (!doc) throw new NotFoundError(`suppression ${id} not found`);
      await recount([doc.cveId], ctx);
      ctx.log.info({ suppression: id, cveId: doc.cveId }, 'suppression deleted');
      return toSuppressionView(doc);
    },

    sweepExpired,

    start() {
      if (sweeper || deps.suppressions.sweepMs === 0) return;
      sweeper = createPeriodic({
        name: 'suppression-expiry-sweep',
        everyMs: deps.suppressions.sweepMs,
        run: tick,
        log,
      });
      sweeper.start();
    },

    async stop() {
      const s = sweeper;
      sweeper = null;
      await s?.stop();
    },
  };
}

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import mongoose, { Schema } from 'mongoose';
import { createPeriodic } from '../jobs/periodic';
import type { Logger } from '../logger';
import { claimOne } from './claim';

/**
 * Named leases shared by every instance on one database: a periodic task (refresh, a schedule, a
 * registry's discovery) runs where its lease was taken, and nowhere else until the lease ends.
 * Taking one is a claim (src/db/claim.ts: a unique ticket, then an update guarded by `claimSeq`), so
 * two instances never both win, on MongoDB or FerretDB.
 */
const leaseSchema = new Schema(
  {
    _id: { type: String, required: true },
    owner: { type: String, default: null },
    /** Random per acquisition: renewals and releases match it, never the owner. */
    token: { type: String, default: null },
    until: { type: Date, default: null },
    /** Free-form state the holder keeps with the lease (last run, last error, Clair's index state, ...). */
    data: { type: Schema.Types.Mixed, default: {} },
    /** Generation of the last claim (see claimOne). */
    claimSeq: { type: Number, default: 0 },
  },
  { versionKey: false, minimize: false },
);

export const LeaseModel = mongoose.model('Lease', leaseSchema, 'leases');

export interface LeaseDoc {
  _id: string;
  owner: string | null;
  /** The random token of the acquisition that holds the lease (null when free). */
  token?: string | null;
  until: Date | null;
  data: Record<string, unknown>;
}

/**
 * One acquisition of a lease: renew, keep and release go by its `token`, which no other acquisition
 * (in this process or another) ever has, so a holder that lost the lease cannot extend or release
 * the next holder's.
 */
export interface HeldLease {
  readonly name: string;
  /** Who took it (the instance id): for people reading the lease document, not for matching. */
  readonly owner: string;
  /** Random, per acquisition. */
  readonly token: string;
  /** The holder's data as stored when it was taken (last run, last discovery, ...). */
  readonly data: Record<string, unknown>;
}

/** The work a lease covered must stop: the lease was taken over, or could not be renewed before it ran out. */
export class LeaseLostError extends Error {
  constructor(
    readonly lease: string,
    reason: string,
  ) {
    super(`lease ${lease} lost: ${reason}`);
    this.name = 'LeaseLostError';
  }
}

/**
 * Acquisitions held in this process, by owner and name, with the time each runs out unless renewed.
 * The database alone cannot refuse a second acquisition by the same instance (its claim filter would
 * match an expired lease, and the owner id is the same), so two triggers in one process (a scan-all
 * slot and a registry's schedule in the same tick) are refused here first.
 */
const local = new Map<string, { token: string; until: number }>();
const localKey = (owner: string, name: string) => `${owner}\u0000${name}`;

/**
 * Takes the lease `name` for `ms` when it is free or expired, with a new random token. Returns the
 * held lease, or null when another acquisition holds it, in another instance or in this one (an
 * acquisition by the same `owner` whose lease has not run out: leases are not re-entrant).
 */
export async function acquireLease(name: string, owner: string, ms: number): Promise<HeldLease | null> {
  const key = localKey(owner, name);
  const mine = local.get(key);
  if (mine && mine.until > Date.now()) return null;
  const token = randomBytes(16).toString('hex');
  const now = new Date();
  const until = new Date(now.getTime() + ms);
  // Reserved before the first await, so a second caller in this tick is refused above.
  local.set(key, { token, until: until.getTime() });
  try {
    try {
      await LeaseModel.collection.insertOne({
        _id: name as never,
        owner: null,
        token: null,
        until: null,
        data: {},
        claimSeq: 0,
      });
    } catch (err) {
      // Another instance created it first; it is claimed below like any other.
      if ((err as { code?: number }).code !== 11000) throw err;
    }
    const doc = await claimOne<LeaseDoc>(LeaseModel as never, {
      scope: 'lease',
      owner,
      staleMs: ms,
      filter: { _id: name, $or: [{ owner: null }, { until: { $lt: now } }] },
      sort: { _id: 1 },
      update: { $set: { owner, token, until } },
      now,
    });
    if (!doc) {
      if (local.get(key)?.token === token) local.delete(key);
      return null;
    }
    return { name, owner, token, data: doc.data ?? {} };
  } catch (err) {
    if (local.get(key)?.token === token) local.delete(key);
    throw err;
  }
}

function forget(lease: HeldLease): void {
  const key = localKey(lease.owner, lease.name);
  if (local.get(key)?.token === lease.token) local.delete(key);
}

/** Extends a lease this acquisition holds; false when it is no longer its own (taken over after expiry, or released). */
export async function renewLease(lease: HeldLease, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  const res = await LeaseModel.updateOne({ _id: lease.name, token: lease.token }, { $set: { until: new Date(until) } });
  const key = localKey(lease.owner, lease.name);
  const mine = local.get(key);
  if (res.matchedCount === 1) {
    if (mine?.token === lease.token) mine.until = until;
    return true;
  }
  forget(lease);
  return false;
}

export interface KeptLease {
  /** Aborted (reason: a LeaseLostError) once the lease is lost; pass it to the work the lease covers. */
  readonly signal: AbortSignal;
  /** Stops renewing (does not release). */
  stop(): Promise<void>;
}

/**
 * Keeps renewing a held lease every third of `ms` (through the periodic runner: a failed renewal is
 * logged, never thrown; renewals pause while the database is away) until stop(). The returned
 * `signal` aborts when a renewal finds the lease taken over or released, or when no renewal has
 * succeeded for `ms` (the lease may have run out and been taken: the holder cannot know it still
 * holds it). Work under the lease checks the signal and stops; it must not write after it aborted.
 */
export function keepLease(lease: HeldLease, ms: number, log: Logger): KeptLease {
  const every = Math.max(250, Math.floor(ms / 3));
  const controller = new AbortController();
  let confirmedAt = Date.now();
  const lost = (reason: string) => {
    if (controller.signal.aborted) return;
    forget(lease);
    log.warn({ lease: lease.name, reason }, 'lease lost; the work it covered stops');
    controller.abort(new LeaseLostError(lease.name, reason));
  };
  // Runs out when no renewal succeeded for the whole lease: checked on its own timer, because the
  // periodic runner skips its ticks while the database is away.
  const deadline = setInterval(() => {
    if (Date.now() - confirmedAt >= ms) lost(`not renewed for ${ms} ms`);
  }, every);
  deadline.unref();
  const renewer = createPeriodic({
    name: `lease-renewal:${lease.name}`,
    everyMs: every,
    maxBackoffMs: every,
    run: async () => {
      if (controller.signal.aborted) return;
      const started = Date.now();
      if (await renewLease(lease, ms)) confirmedAt = started;
      else lost('taken over or released');
    },
    log,
    outageLevel: 'debug',
  });
  renewer.start();
  return {
    signal: controller.signal,
    stop: async () => {
      clearInterval(deadline);
      await renewer.stop();
    },
  };
}

/** Gives a lease up, optionally storing data with it; a no-op when this acquisition no longer holds it. */
export async function releaseLease(lease: HeldLease, data?: Record<string, unknown>): Promise<void> {
  forget(lease);
  const set: Record<string, unknown> = { owner: null, token: null, until: null };
  if (data) for (const [k, v] of Object.entries(data)) set[`data.${k}`] = v;
  await LeaseModel.updateOne({ _id: lease.name, token: lease.token }, { $set: set });
}

/** Keeps a lease's data without taking it (e.g. when a schedule last fired). */
export async function setLeaseData(name: string, data: Record<string, unknown>): Promise<void> {
  const set: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) set[`data.${k}`] = v;
  await LeaseModel.updateOne({ _id: name }, { $set: set }, { upsert: true });
}

export async function readLease(name: string): Promise<LeaseDoc | null> {
  return LeaseModel.findById(name).lean<LeaseDoc>();
}

/** A per-process identity for lease owners: host, pid and a random suffix. */
export function instanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

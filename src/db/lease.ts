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
  until: Date | null;
  data: Record<string, unknown>;
}

/**
 * Takes the lease `name` for `ms` when it is free, expired or already ours. Returns the lease
 * document when taken, null when another owner holds it.
 */
export async function acquireLease(name: string, owner: string, ms: number): Promise<LeaseDoc | null> {
  const now = new Date();
  const until = new Date(now.getTime() + ms);
  // Already ours: only this owner can match, so a plain update extends it.
  const mine = await LeaseModel.findOneAndUpdate(
    { _id: name, owner },
    { $set: { until } },
    { returnDocument: 'after' },
  ).lean<LeaseDoc>();
  if (mine) return mine;
  try {
    await LeaseModel.collection.insertOne({ _id: name as never, owner: null, until: null, data: {}, claimSeq: 0 });
  } catch (err) {
    // Another instance created it first; it is claimed below like any other.
    if ((err as { code?: number }).code !== 11000) throw err;
  }
  return claimOne<LeaseDoc>(LeaseModel as never, {
    scope: 'lease',
    owner,
    staleMs: ms,
    filter: { _id: name, $or: [{ owner: null }, { until: { $lt: now } }] },
    sort: { _id: 1 },
    update: { $set: { owner, until } },
    now,
  });
}

/** Extends a lease we hold; false when it is no longer ours (taken over after expiry). */
export async function renewLease(name: string, owner: string, ms: number): Promise<boolean> {
  const res = await LeaseModel.updateOne({ _id: name, owner }, { $set: { until: new Date(Date.now() + ms) } });
  return res.matchedCount === 1;
}

/**
 * Keeps renewing a lease we hold every third of `ms` (through the periodic runner: a failed renewal
 * is logged, never thrown; renewals pause while the database is away) until the returned stop().
 */
export function keepLease(name: string, owner: string, ms: number, log: Logger): { stop(): Promise<void> } {
  const every = Math.max(250, Math.floor(ms / 3));
  const renewer = createPeriodic({
    name: `lease-renewal:${name}`,
    everyMs: every,
    maxBackoffMs: every,
    run: () => renewLease(name, owner, ms),
    log,
    outageLevel: 'debug',
  });
  renewer.start();
  return { stop: () => renewer.stop() };
}

/** Gives a lease up, optionally storing data with it; a no-op when it is not ours. */
export async function releaseLease(name: string, owner: string, data?: Record<string, unknown>): Promise<void> {
  const set: Record<string, unknown> = { owner: null, until: null };
  if (data) for (const [k, v] of Object.entries(data)) set[`data.${k}`] = v;
  await LeaseModel.updateOne({ _id: name, owner }, { $set: set });
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

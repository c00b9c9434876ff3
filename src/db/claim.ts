import mongoose, { Schema, type Model } from 'mongoose';

/**
 * Atomic claims that hold on MongoDB and on FerretDB 1.x alike.
 *
 * MongoDB makes a conditional findOneAndUpdate atomic; FerretDB 1.x runs it as read-then-write, and
 * with four instances racing for one document two of them "won" in 17 of 30 measured rounds. The
 * one write both servers make atomic is an insert against a unique `_id`. So a claim is:
 *
 * 1. read the candidate and its `claimSeq` (a counter that only ever grows);
 * 2. insert the ticket `<scope>:<id>:<claimSeq + 1>` into `claims`: exactly one contender succeeds;
 * 3. the winner updates the candidate guarded by `claimSeq` (and increments it), then deletes its
 *    ticket. A contender that reads the old `claimSeq` later can insert the same ticket again, but
 *    its guarded update then matches nothing, because the winner's update happened before the
 *    ticket was deleted.
 *
 * A ticket left by an instance that died between 2 and 3 is older than `staleMs`; the next
 * contender deletes it (guarded by its time) and competes again, so no candidate is blocked for good.
 */
const claimSchema = new Schema(
  {
    _id: { type: String, required: true },
    owner: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

export const ClaimModel = mongoose.model('Claim', claimSchema, 'claims');

const isDuplicate = (err: unknown) => (err as { code?: number } | null)?.code === 11000;

/** Takes ticket `id` for `owner`; false when another contender holds it (and it is not stale). */
export async function takeTicket(id: string, owner: string, staleMs: number, now = new Date()): Promise<boolean> {
  for (let round = 0; round < 2; round++) {
    try {
      await ClaimModel.collection.insertOne({ _id: id as never, owner, at: now });
      return true;
    } catch (err) {
      if (!isDuplicate(err)) throw err;
    }
    if (round > 0) return false;
    const held = await ClaimModel.findById(id).lean<{ at: Date }>();
    if (held && new Date(held.at).getTime() > now.getTime() - staleMs) return false;
    // Stale (its owner died mid-claim) or gone already: remove exactly what we saw and try once more.
    if (held) await ClaimModel.deleteOne({ _id: id, at: held.at });
  }
  return false;
}

/** Deletes a ticket once the guarded update it protected is written. */
export async function dropTicket(id: string): Promise<void> {
  await ClaimModel.deleteOne({ _id: id });
}

/** Filter matching `claimSeq` = `seq`, where a document written before claimSeq existed counts as 0. */
export function seqIs(seq: number): unknown {
  return seq === 0 ? { $in: [0, null] } : seq;
}

export interface ClaimOptions {
  /** Ticket namespace, e.g. "scanjob". */
  scope: string;
  owner: string;
  /** A ticket older than this is taken to be left by a dead contender. */
  staleMs: number;
  filter: Record<string, unknown>;
  sort: Record<string, 1 | -1>;
  /** The update the winner applies (`claimSeq` is incremented besides). */
  update: { $set?: Record<string, unknown>; $inc?: Record<string, number> };
  now?: Date;
}

/**
 * Claims one document of `model` matching `filter` (first by `sort`) for `owner` and returns it as
 * updated, or null when none is claimable or every try lost to another contender. Never returns
 * the same generation of a document to two contenders, on MongoDB or FerretDB.
 */
export async function claimOne<T>(model: Model<T>, opts: ClaimOptions): Promise<T | null> {
  const now = opts.now ?? new Date();
  for (let tries = 0; tries < 3; tries++) {
    const candidate = await model
      .findOne(opts.filter as never, { _id: 1, claimSeq: 1 })
      .sort(opts.sort)
      .lean<{ _id: unknown; claimSeq?: number | null }>();
    if (!candidate) return null;
    const seq = candidate.claimSeq ?? 0;
    const ticket = `${opts.scope}:${String(candidate._id)}:${seq + 1}`;
    if (!(await takeTicket(ticket, opts.owner, opts.staleMs, now))) continue;
    try {
      const claimed = await model
        .findOneAndUpdate(
          { ...opts.filter, _id: candidate._id, claimSeq: seqIs(seq) } as never,
          { ...opts.update, $inc: { ...opts.update.$inc, claimSeq: 1 } } as never,
          { returnDocument: 'after' },
        )
        .lean<T>();
      if (claimed) return claimed as T;
    } finally {
      await dropTicket(ticket);
    }
  }
  return null;
}

import mongoose, { type AnyBulkWriteOperation, type Model } from 'mongoose';
import type { Collection, Document } from 'mongodb';

/*
 * Every multi-statement write of the service goes through this module, so that no command carries
 * more statements than the server it talks to can take.
 *
 * FerretDB 1.x (the embedded server and CI) opens one query iterator per statement of an `update`
 * or `delete` command and releases them only when the command ends; a matched limit-1 iterator keeps
 * its backend connection, and the pool holds 100 (SQLite) or 50 (PostgreSQL). A `bulkWrite` of 100
 * `updateOne` therefore never ends, and every later query of that database waits behind it
 * (measured: 79 ms at 50, 217 ms at 99, hung at 100 on SQLite; hung at 50 on PostgreSQL). MongoDB has
 * no such limit and gains from large batches, so the cap depends on the server, read from `buildInfo`.
 */

/** Statements per write command on FerretDB: well under the PostgreSQL backend's pool of 50. */
export const FERRETDB_MAX_STATEMENTS = 25;
/** Statements per write command on MongoDB (the driver splits above its own limit anyway). */
export const MONGODB_MAX_STATEMENTS = 1000;
/**
 * Documents per `insert` command. Inserts open no query iterator, so FerretDB takes large ones (and
 * is fast at them: one SQLite transaction per command), unlike its updates.
 */
export const MAX_INSERTS = 1000;

export interface ServerInfo {
  /** True for FerretDB (any backend). */
  ferretdb: boolean;
  version: string;
  /** Most update/delete statements one write command may carry on this server. */
  maxStatements: number;
  /** Whether `update` accepts an aggregation pipeline (MongoDB ≥ 4.2; not FerretDB 1.x). */
  updatePipelines: boolean;
}

/** True when a `buildInfo` reply comes from FerretDB (it adds `ferretdbVersion` and `ferretdbFeatures`). */
export function isFerretBuildInfo(info: Record<string, unknown>): boolean {
  return Object.keys(info).some((k) => k.toLowerCase().startsWith('ferretdb'));
}

/** What a `buildInfo` reply says about the write limits of its server. */
export function serverInfoOf(info: Record<string, unknown>): ServerInfo {
  const ferretdb = isFerretBuildInfo(info);
  const version = typeof info.version === 'string' ? info.version : '0.0.0';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return {
    ferretdb,
    version,
    maxStatements: ferretdb ? FERRETDB_MAX_STATEMENTS : MONGODB_MAX_STATEMENTS,
    updatePipelines: !ferretdb && (major > 4 || (major === 4 && minor >= 2)),
  };
}

// Keyed by the driver client, which a reconnect to another server replaces.
const infos = new WeakMap<object, Promise<ServerInfo>>();

/**
 * The write limits of the server behind `conn` (the default mongoose connection), asked once per
 * driver client. A failed `buildInfo` is not cached; until it answers the FerretDB limits apply
 * (the safe side). Throws only what the driver throws when the connection has no database.
 */
export async function serverInfo(conn: mongoose.Connection = mongoose.connection): Promise<ServerInfo> {
  const client = conn.getClient();
  let p = infos.get(client);
  if (!p) {
    p = conn
      .db!.admin()
      .command({ buildInfo: 1 })
      .then((info) => serverInfoOf(info))
      .catch(() => {
        infos.delete(client);
        return serverInfoOf({ ferretdbVersion: 'unknown' });
      });
    infos.set(client, p);
  }
  return p;
}

/** The statements per command to use: `wanted` (a configured batch size) capped by the server's limit. */
export async function writeBatchSize(wanted?: number, conn?: mongoose.Connection): Promise<number> {
  const { maxStatements } = await serverInfo(conn);
  return Math.max(1, Math.min(wanted ?? maxStatements, maxStatements));
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Runs `fn` on consecutive slices of `items`, each at most the server's statement limit (and `wanted`). */
export async function forEachWriteBatch<T>(
  items: readonly T[],
  fn: (batch: T[]) => Promise<unknown>,
  wanted?: number,
): Promise<void> {
  if (!items.length) return;
  const size = await writeBatchSize(wanted);
  for (const batch of chunk(items, size)) await fn(batch);
}

export interface BulkResult {
  matched: number;
  modified: number;
  upserted: number;
  inserted: number;
  deleted: number;
}

/**
 * `model.bulkWrite(ops)` split into commands the server can take, unordered within each. Returns the
 * summed counts. Throws the first batch's driver error (later batches are not sent).
 */
export async function bulkWriteCapped(
  // Any model: the operations are built untyped by the callers, as for Model.bulkWrite.
  model: Model<any>,
  ops: AnyBulkWriteOperation[],
  opts: { batchSize?: number } = {},
): Promise<BulkResult> {
  const sum: BulkResult = { matched: 0, modified: 0, upserted: 0, inserted: 0, deleted: 0 };
  await forEachWriteBatch(
    ops,
    async (batch) => {
      const r = await model.bulkWrite(batch, { ordered: false });
      sum.matched += r.matchedCount;
      sum.modified += r.modifiedCount;
      sum.upserted += r.upsertedCount;
      sum.inserted += r.insertedCount;
      sum.deleted += r.deletedCount;
    },
    opts.batchSize,
  );
  return sum;
}

/**
 * `collection.insertMany(docs)` split into commands of at most MAX_INSERTS (and `batchSize`) documents. With `ignoreDuplicates`, a
 * duplicate key (11000: a concurrent writer inserted the same key first) is not an error. Returns the
 * number inserted.
 */
export async function insertManyCapped(
  collection: Collection,
  docs: readonly Document[],
  opts: { batchSize?: number; ignoreDuplicates?: boolean } = {},
): Promise<number> {
  let inserted = 0;
  const size = Math.max(1, Math.min(opts.batchSize ?? MAX_INSERTS, MAX_INSERTS));
  for (const batch of chunk(docs, size)) {
    try {
      inserted += (await collection.insertMany(batch, { ordered: false })).insertedCount;
    } catch (err) {
      if (!opts.ignoreDuplicates || (err as { code?: number }).code !== 11000) throw err;
      inserted += (err as { result?: { insertedCount?: number } }).result?.insertedCount ?? 0;
    }
  }
  return inserted;
}

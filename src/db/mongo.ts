import { EventEmitter } from 'node:events';
import mongoose from 'mongoose';
import type { MongoClient } from 'mongodb';
import { DATABASE_UNAVAILABLE, DatabaseError } from '../errors/app-error';
import type { Logger } from '../logger';

/** Strips credentials from a MongoDB URI so it can be logged. */
export function redactUri(uri: string): string {
  return uri.replace(/\/\/([^@/]+)@/, '//***@');
}

/**
 * What the driver knows about the database, from its SDAM events: `up` while at least one server
 * that takes writes is known, `down` from the moment the topology has none (an operation failed on
 * a dead socket, or a heartbeat failed). Requests and periodic tasks read it to fail fast and to
 * pause instead of each waiting the full server selection timeout.
 */
export interface DatabaseState {
  readonly up: boolean;
  /** When the state last changed (epoch ms); 0 before the first connection. */
  readonly since: number;
  /** The driver's reason for the last `down` (heartbeat or topology error), for logs and /readyz. */
  readonly reason: string | null;
}

class DatabaseStateTracker extends EventEmitter {
  up = true;
  since = 0;
  reason: string | null = null;

  set(up: boolean, reason: string | null): void {
    if (up === this.up) return;
    this.up = up;
    this.since = Date.now();
    this.reason = up ? null : reason;
    this.emit(up ? 'up' : 'down', this.reason);
  }
}

const tracker = new DatabaseStateTracker();
tracker.setMaxListeners(0);

/** The current database state (up until the driver says otherwise; always up when never watched). */
export function databaseState(): DatabaseState {
  return { up: tracker.up, since: tracker.since, reason: tracker.reason };
}

/** Calls `fn` each time the database comes back; returns the unsubscribe function. */
export function onDatabaseUp(fn: () => void): () => void {
  tracker.on('up', fn);
  return () => tracker.off('up', fn);
}

/**
 * Throws DatabaseError (5005) at once when the driver knows the database is away. The message is
 * fixed (no driver text, hosts or ports reach a reply); the reason is logged once when it changes.
 */
export function assertDatabaseUp(): void {
  if (!tracker.up) throw new DatabaseError(DATABASE_UNAVAILABLE);
}

/** True when the error means the database cannot be reached (as opposed to a refused operation). */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseError) return true;
  const name = (err as { name?: string } | null)?.name ?? '';
  return /^Mongo(ose)?(ServerSelection|Network|NetworkTimeout|NotConnected|TopologyClosed|PoolCleared)Error$/.test(
    name,
  );
}

function hasWritableServer(description: { servers: Map<string, { type: string }> }): boolean {
  for (const s of description.servers.values()) {
    if (['Standalone', 'RSPrimary', 'Mongos', 'LoadBalancer'].includes(s.type)) return true;
  }
  return false;
}

/**
 * Follows the driver's topology and heartbeat events of `client` into the database state; logs
 * each change once. Returns a function that stops following.
 */
export function watchDatabase(client: MongoClient, log: Logger): () => void {
  const onTopology = (ev: { newDescription: { servers: Map<string, { type: string; error?: unknown }> } }) => {
    const up = hasWritableServer(ev.newDescription);
    const err = [...ev.newDescription.servers.values()].map((s) => s.error).find(Boolean) as Error | undefined;
    const was = tracker.up;
    tracker.set(up, up ? null : (err?.message ?? 'no server takes writes'));
    if (was !== up) {
      if (up) log.warn('the database is back: requests and background work resume');
      else
        log.error(
          { reason: tracker.reason },
          'the database is unavailable: requests answer 5005, background work pauses',
        );
    }
  };
  client.on('topologyDescriptionChanged', onTopology);
  tracker.set(true, null);
  return () => client.off('topologyDescriptionChanged', onTopology);
}

let unwatch: (() => void) | null = null;

/**
 * Connects the default mongoose connection and builds the indexes of every registered model.
 * Commands are never buffered: while the database is away an operation fails (5005) instead of
 * waiting in mongoose's queue. Throws the driver's error when the server cannot be reached within
 * `serverSelectionTimeoutMS`.
 */
export async function connectMongo(
  uri: string,
  log: Logger,
  opts: { dbName?: string; serverSelectionTimeoutMS?: number; heartbeatFrequencyMS?: number } = {},
): Promise<typeof mongoose> {
  mongoose.set('strictQuery', true);
  mongoose.set('bufferCommands', false);
  // autoIndex builds indexes in the background on first use; we build them explicitly below so a
  // start fails loudly when an index cannot be built.
  await mongoose.connect(uri, {
    dbName: opts.dbName,
    serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS ?? 10_000,
    // How soon a returning database is noticed while nothing else asks for it (the default is 10 s).
    heartbeatFrequencyMS: opts.heartbeatFrequencyMS ?? 2000,
    bufferCommands: false,
    autoIndex: false,
    maxPoolSize: 20,
  });
  unwatch?.();
  unwatch = watchDatabase(mongoose.connection.getClient(), log);
  await Promise.all(Object.values(mongoose.connection.models).map((m) => m.createIndexes()));
  log.info({ uri: redactUri(uri), db: mongoose.connection.name }, 'connected to MongoDB');
  return mongoose;
}

export async function disconnectMongo(): Promise<void> {
  unwatch?.();
  unwatch = null;
  await mongoose.disconnect();
}

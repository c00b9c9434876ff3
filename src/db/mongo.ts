import mongoose from 'mongoose';
import type { Logger } from '../logger';

/** Strips credentials from a MongoDB URI so it can be logged. */
export function redactUri(uri: string): string {
  return uri.replace(/\/\/([^@/]+)@/, '//***@');
}

/**
 * Connects the default mongoose connection and builds the indexes of every registered model.
 * Throws the driver's error when the server cannot be reached within `serverSelectionTimeoutMS`.
 */
export async function connectMongo(
  uri: string,
  log: Logger,
  opts: { dbName?: string; serverSelectionTimeoutMS?: number } = {},
): Promise<typeof mongoose> {
  mongoose.set('strictQuery', true);
  // autoIndex builds indexes in the background on first use; we build them explicitly below so a
  // start fails loudly when an index cannot be built.
  await mongoose.connect(uri, {
    dbName: opts.dbName,
    serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS ?? 10_000,
    autoIndex: false,
    maxPoolSize: 20,
  });
  await Promise.all(Object.values(mongoose.connection.models).map((m) => m.createIndexes()));
  log.info({ uri: redactUri(uri), db: mongoose.connection.name }, 'connected to MongoDB');
  return mongoose;
}

export async function disconnectMongo(): Promise<void> {
  await mongoose.disconnect();
}

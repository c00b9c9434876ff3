import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectMongo, disconnectMongo } from '../src/db/mongo';
import { startEmbeddedMongo, type EmbeddedMongo } from '../src/db/embedded';
import { createLogger } from '../src/logger';

export const log = createLogger(process.env.BENCH_LOG_LEVEL || 'warn');

/** Connects to MONGODB_URI (or MONGO_TEST_URI), else starts an embedded server in a temp directory. */
export async function benchDb(dbName: string): Promise<{ uri: string; server: string; close(): Promise<void> }> {
  let embedded: EmbeddedMongo | null = null;
  let uri = process.env.MONGODB_URI || process.env.MONGO_TEST_URI;
  if (!uri) {
    embedded = await startEmbeddedMongo({
      dataDir: mkdtempSync(path.join(tmpdir(), 'vulnscan-bench-')),
      port: 0,
      log,
      mongodTimeoutMs: 20_000,
    });
    uri = embedded.uri;
  }
  await connectMongo(uri, log, { dbName });
  return {
    uri,
    server: embedded?.kind ?? 'external',
    close: async () => {
      await disconnectMongo();
      await embedded?.stop();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** Runs `fn` n times sequentially and returns p50/p99 in milliseconds. */
export async function timeIt(n: number, fn: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    await fn(i);
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  t.sort((a, b) => a - b);
  return { p50: percentile(t, 50), p99: percentile(t, 99) };
}

export function report(name: string, value: string): void {
  process.stdout.write(`${name.padEnd(58)} ${value}\n`);
}

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from '../logger';

/** A MongoDB-compatible server started by this process. */
export interface EmbeddedMongo {
  kind: 'mongodb-memory-server' | 'ferretdb';
  uri: string;
  dataDir: string | null;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Directory for persistent data; null keeps mongod's data in memory (tests). */
  dataDir: string | null;
  port: number;
  log: Logger;
  ferretdbBinary?: string;
  /** How long to wait for mongodb-memory-server to obtain mongod before falling back. */
  mongodTimeoutMs?: number;
}

export class EmbeddedMongoUnavailableError extends Error {
  override name = 'EmbeddedMongoUnavailableError';
}

const ROOT = path.resolve(__dirname, '..', '..');
const FERRET_MODULE = path.join(ROOT, 'tools', 'ferretdb');

/**
 * Starts a MongoDB-compatible server: mongodb-memory-server's real mongod where its binary can be
 * had (MONGOMS_SYSTEM_BINARY or a download), otherwise FerretDB 1.x on SQLite built from the Go
 * module in tools/ferretdb. Throws EmbeddedMongoUnavailableError saying how to set MONGODB_URI.
 */
export async function startEmbeddedMongo(opts: EmbeddedOptions): Promise<EmbeddedMongo> {
  const reasons: string[] = [];
  try {
    return await startMongod(opts);
  } catch (e) {
    reasons.push(`mongod: ${(e as Error).message.split('\n')[0]}`);
    opts.log.info({ reason: reasons[0] }, 'mongod is not available here; trying FerretDB');
  }
  try {
    return await startFerret(opts);
  } catch (e) {
    reasons.push(`FerretDB: ${(e as Error).message.split('\n')[0]}`);
  }
  throw new EmbeddedMongoUnavailableError(
    `no MongoDB server could be started (${reasons.join('; ')}). ` +
      'Set MONGODB_URI=mongodb://host:27017/vulnscan to use an existing MongoDB, set MONGOMS_SYSTEM_BINARY to a mongod binary, ' +
      'or install Go >= 1.24 so that the embedded FerretDB can be built.',
  );
}

async function startMongod(opts: EmbeddedOptions): Promise<EmbeddedMongo> {
  const { MongoMemoryServer } = await import('mongodb-memory-server-core');
  const dbPath = opts.dataDir ? path.join(opts.dataDir, 'mongodb') : undefined;
  if (dbPath) mkdirSync(dbPath, { recursive: true });
  const creating = MongoMemoryServer.create({
    instance: { ip: '127.0.0.1', port: opts.port || undefined, dbPath, storageEngine: 'wiredTiger' },
  });
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new Error('timed out obtaining mongod'));
    }, opts.mongodTimeoutMs ?? 30_000);
  });
  // A create that finishes after the timeout must not leave a mongod running.
  creating.then((s) => (timedOut ? s.stop() : undefined)).catch(() => undefined);
  try {
    const server = await Promise.race([creating, timeout]);
    return {
      kind: 'mongodb-memory-server',
      uri: server.getUri(),
      dataDir: dbPath ?? null,
      stop: async () => {
        await server.stop({ doCleanup: !dbPath, force: false });
      },
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Path of the cached FerretDB binary for the current wrapper sources (rebuilt when they change). */
export function ferretBinaryPath(): string {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(readFileSync(path.join(FERRET_MODULE, f)));
  const cache = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  return path.join(cache, 'vulnscan', 'ferretdb', hash.digest('hex').slice(0, 12), 'ferretdb');
}

/** Builds the FerretDB wrapper with Go if its cached binary is missing; returns the binary path. */
export function ensureFerretBinary(log: Logger): string {
  const bin = ferretBinaryPath();
  if (existsSync(bin)) return bin;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) throw new Error('the FerretDB binary is not built and Go is not installed');
  log.info({ binary: bin }, 'building FerretDB from the Go module proxy (first start only, about a minute)');
  mkdirSync(path.dirname(bin), { recursive: true });
  const tmp = `${bin}.tmp${process.pid}`;
  const built = spawnSync('go', ['build', '-trimpath', '-o', tmp, '.'], {
    cwd: FERRET_MODULE,
    env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
    encoding: 'utf8',
  });
  if (built.status !== 0)
    throw new Error(`go build failed: ${(built.stderr || '').trim().split('\n').slice(-3).join(' ')}`);
  renameSync(tmp, bin);
  return bin;
}

async function startFerret(opts: EmbeddedOptions): Promise<EmbeddedMongo> {
  const bin = opts.ferretdbBinary || ensureFerretBinary(opts.log);
  const dataDir = path.resolve(opts.dataDir ?? path.join(ROOT, 'data'), 'ferretdb');
  mkdirSync(dataDir, { recursive: true });
  const child = spawn(bin, ['-listen', `127.0.0.1:${opts.port}`, '-data', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr?.on('data', (b: Buffer) => {
    stderr.push(b.toString());
    if (stderr.length > 50) stderr.shift();
  });
  const uri = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('FerretDB did not start within 30 s')), 30_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith('READY ')) {
        clearTimeout(timer);
        resolve(line.slice(6).trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`FerretDB exited with ${code}: ${stderr.join('').trim().split('\n').slice(-2).join(' ')}`));
    });
    child.once('error', reject);
  });
  return { kind: 'ferretdb', uri, dataDir, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

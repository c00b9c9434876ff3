import 'dotenv/config';
import type { Server } from 'node:http';
import path from 'node:path';
import { createApp } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import { connectMongo, disconnectMongo, redactUri } from './db/mongo';
import { startEmbeddedMongo, type EmbeddedMongo } from './db/embedded';
import { createLogger, type Logger } from './logger';
import { secretBoxFromConfig } from './crypto/secret-box';
import { answerClientErrors } from './http/client-error';
import type { AppDeps } from './http/deps';
import { alertsFrom } from './modules/alerts';
import { createImageOwner } from './modules/images';
import { webhooksFrom } from './modules/webhooks';
import { clairFrom, scannerFrom } from './modules/scanner';
import { suppressionsFrom } from './modules/suppressions';
import { instanceId } from './db/lease';
import { createScheduler } from './jobs/scheduler';
import { schedulesServiceFrom } from './modules/schedules';
import { vulnerabilitiesFrom } from './modules/vulnerabilities';

export interface Running {
  server: Server;
  config: Config;
  logger: Logger;
  embedded: EmbeddedMongo | null;
  stop(reason?: string): Promise<void>;
}

type CleanupTask = { label: string; run: () => Promise<unknown> | unknown };

/**
 * Starts the service: config → MongoDB (MONGODB_URI, else an embedded server under DATA_DIR) →
 * HTTP on PORT. Returns a handle whose stop() is idempotent and bounded by SHUTDOWN_TIMEOUT_MS.
 */
export async function start(env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  const config = loadConfig(env);
  const logger = createLogger(config.logLevel);
  const cleanup: CleanupTask[] = [];

  let embedded: EmbeddedMongo | null = null;
  let uri = config.mongo.uri;
  if (!uri) {
    const dataDir = path.resolve(config.dataDir);
    embedded = await startEmbeddedMongo({
      dataDir,
      port: config.mongo.embeddedPort,
      log: logger,
      ferretdbBinary: config.mongo.ferretdbBinary,
    });
    uri = embedded.uri;
    logger.info(
      { server: embedded.kind, uri: redactUri(uri), dataDir: embedded.dataDir },
      `MONGODB_URI is not set: started an embedded ${embedded.kind === 'ferretdb' ? 'FerretDB (MongoDB-compatible, SQLite)' : 'MongoDB'} server keeping its data in ${embedded.dataDir}`,
    );
    const e = embedded;
    cleanup.push({ label: 'embedded database', run: () => e.stop() });
  }
  const dbName = embedded ? 'vulnscan' : undefined;
  await connectMongo(uri, logger, { dbName });
  cleanup.unshift({ label: 'mongodb connection', run: () => disconnectMongo() });

  const secretBox = secretBoxFromConfig({ secretKey: config.secretKey, dataDir: path.resolve(config.dataDir) }, logger);
  // One identity for this instance's job claims, leases and schedule slots.
  const deps: AppDeps = { config, logger, secretBox, instanceId: instanceId() };
  const clair = clairFrom(deps);
  deps.clairPing = () => clair.ping({ log: logger });
  // A new registry gets its first discovery and scan at once, in the background.
  deps.onRegistryCreated = (key) => {
    scannerFrom(deps)
      .service.requestScan({ repository: key, force: false }, { log: logger })
      .catch((err: unknown) =>
        logger.warn(
          { registry: key, err: (err as Error).message },
          'first discovery of the new registry did not start',
        ),
      );
  };
  const app = createApp(deps);
  const scanner = scannerFrom(deps);
  scanner.start();
  // Stopped before the database closes: scans in flight get a grace period, then their leases expire.
  cleanup.unshift({ label: 'scan worker', run: () => scanner.stop(Math.max(config.shutdownTimeoutMs - 3000, 500)) });
  // The images' derived state: markers a crash left are drained, every digest reconciled now and then.
  const imageOwner = createImageOwner({
    logger,
    instance: deps.instanceId!,
    drainMs: config.images.drainMs,
    reconcileMs: config.images.reconcileMs,
    batch: config.images.batch,
    minAgeMs: config.images.minAgeMs,
    leaseMs: config.scan.leaseMs,
  });
  imageOwner.start();
  cleanup.unshift({ label: 'image markers and reconcile', run: () => imageOwner.stop() });
  const { summarizer } = vulnerabilitiesFrom(deps);
  summarizer.start();
  cleanup.unshift({ label: 'cve summaries', run: () => summarizer.stop() });
  // Alerts are delivered apart from the scans (an outbox), so a dead receiver never holds a scan up.
  const alerts = alertsFrom(deps);
  if (config.alerts.worker) alerts.worker.start();
  // The outbox is derived from stored state on every instance (under a lease), delivering or not.
  alerts.deriver.start();
  cleanup.unshift({ label: 'alert derivation', run: () => alerts.deriver.stop() });
  cleanup.unshift({
    label: 'alert worker',
    run: () => alerts.worker.stop(Math.max(config.shutdownTimeoutMs - 3000, 500)),
  });
  // Registry webhooks are answered once stored; this worker discovers them (before the scheduler stops, after the scanner).
  const inbox = webhooksFrom(deps).worker;
  if (config.webhookInbox.worker) inbox.start();
  cleanup.unshift({
    label: 'webhook inbox worker',
    run: () => inbox.stop(Math.max(config.shutdownTimeoutMs - 3000, 500)),
  });
  const suppressions = suppressionsFrom(deps);
  suppressions.start();
  cleanup.unshift({ label: 'suppression expiry sweep', run: () => suppressions.stop() });
  const scheduler = createScheduler({
    schedules: schedulesServiceFrom(deps),
    scanner: scanner.service,
    logger,
    instance: deps.instanceId!,
    tickMs: config.schedule.tickMs,
  });
  if (config.schedule.enabled) scheduler.start();
  // Stopped first, so no schedule starts a discovery while the scanner winds down.
  cleanup.unshift({ label: 'scheduler', run: () => scheduler.stop() });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  answerClientErrors(server, logger);
  const address = server.address();
  logger.info({ port: typeof address === 'object' && address ? address.port : config.port }, 'listening');

  let stopping: Promise<void> | null = null;
  const stop = (reason = 'stop') => {
    stopping ??= (async () => {
      logger.info({ reason }, 'shutting down');
      // Stop accepting; in-flight requests finish; idle keep-alive sockets close (Node >= 19).
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const force = setTimeout(() => server.closeAllConnections(), Math.max(config.shutdownTimeoutMs - 2000, 500));
      await closed;
      clearTimeout(force);
      for (const task of cleanup) {
        try {
          await task.run();
        } catch (err) {
          logger.error({ err, task: task.label }, 'cleanup task failed');
        }
      }
      logger.info('stopped');
      logger.flush();
    })();
    return stopping;
  };

  return { server, config, logger, embedded, stop };
}

/** Entry point: signals stop the service gracefully; fatal errors exit 1. */
async function main(): Promise<void> {
  let running: Running;
  try {
    running = await start();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
    } else {
      process.stderr.write(`failed to start: ${(err as Error).message}\n`);
    }
    process.exit(1);
  }
  const { logger, config } = running;
  const shutdown = (signal: string) => {
    const hard = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    hard.unref();
    running.stop(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled rejection; shutting down');
    running.stop('unhandledRejection').finally(() => process.exit(1));
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; shutting down');
    running.stop('uncaughtException').finally(() => process.exit(1));
  });
}

if (require.main === module) void main();

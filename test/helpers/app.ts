import { Writable } from 'node:stream';
import { createApp, type AppDeps } from '../../src/app';
import { createSecretBox } from '../../src/crypto/secret-box';
import { loadConfig, type Config } from '../../src/config';
import { createLogger, type Logger } from '../../src/logger';

/** Captures every log line the app writes, for assertions on logs. */
export class LogCapture extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    cb();
  }
  get text(): string {
    return this.lines.join('\n');
  }
  records(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

/** A fixed key, so tests never write DATA_DIR/secret.key. */
export const TEST_SECRET_KEY = Buffer.alloc(32, 7);

/** createApp with a test config (overrides as env keys), a captured logger and optional clients/hooks. */
export function buildTestApp(
  env: Record<string, string> = {},
  clients: Omit<Partial<AppDeps>, 'config' | 'logger'> = {},
): {
  app: ReturnType<typeof createApp>;
  config: Config;
  logger: Logger;
  logs: LogCapture;
  deps: AppDeps;
} {
  const config = loadConfig({ LOG_LEVEL: 'info', ...env });
  const logs = new LogCapture();
  const logger = createLogger(config.logLevel, logs);
  const deps: AppDeps = { config, logger, secretBox: createSecretBox(TEST_SECRET_KEY), ...clients };
  return { app: createApp(deps), config, logger, logs, deps };
}

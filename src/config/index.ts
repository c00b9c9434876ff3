import { z } from 'zod';

/** Thrown when the environment holds an invalid value; the message names the key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

// Every key the service reads. Empty strings count as "not set" (see loadConfig).
const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: LogLevel.default('info'),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://')
    .optional(),
  DATA_DIR: z.string().default('./data'),
  EMBEDDED_MONGO_PORT: z.coerce.number().int().min(0).max(65535).default(27018),
  FERRETDB_BINARY: z.string().optional(),
  SECRET_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/=_-]{32,}$/, 'must be at least 32 base64 characters (openssl rand -base64 32)')
    .optional(),
  REGISTRY_TIMEOUT_MS: z.coerce.number().int().min(100).max(300000).default(10000),
  REGISTRY_TEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(60000).default(5000),
  RESCORE_BATCH_SIZE: z.coerce.number().int().min(1).max(10000).default(1000),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(60000).default(10000),
  CORS_ORIGINS: csv.default([]),
  API_TOKENS: csv.default([]),
  CLAIR_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://clair:6060' })
    .default('http://127.0.0.1:6060'),
  CLAIR_VERSION: z.enum(['v4', 'v2']).default('v4'),
  CLAIR_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  CLAIR_INDEX_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(600_000),
  CLAIR_PSK: z
    .string()
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, "must be base64 (the auth.psk.key of Clair's config)")
    .optional(),
  CLAIR_PSK_ISSUER: z.string().min(1).default('vulnscan'),
  SCAN_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  SCAN_PLATFORMS: csv
    .pipe(
      z
        .array(z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, 'must be os/arch[/variant], e.g. linux/amd64'))
        .min(1, 'must name at least one platform'),
    )
    .default(['linux/amd64']),
  SCAN_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  SCAN_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(10_000),
  SCAN_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  SCAN_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(2000),
  SCAN_REFRESH_INTERVAL_MS: z.coerce.number().int().min(0).max(604_800_000).default(21_600_000),
  SCAN_WORKER: z.enum(['true', 'false'], { error: 'must be true or false' }).default('true'),
  FINDINGS_BATCH_SIZE: z.coerce.number().int().min(10).max(10000).default(1000),
  CVE_SUMMARY_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  CVE_SUMMARY_BATCH: z.coerce.number().int().min(1).max(10_000).default(200),
});

export type Env = z.input<typeof Env>;

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly logLevel: z.infer<typeof LogLevel>;
  readonly mongo: {
    readonly uri: string | undefined;
    readonly embeddedPort: number;
    readonly ferretdbBinary: string | undefined;
  };
  readonly dataDir: string;
  readonly secretKey: string | undefined;
  readonly registry: {
    /** Timeout of every call to a registry (and its token server). */
    readonly timeoutMs: number;
    /** Bound of the connection test run on create and on PUT ?repository=. */
    readonly testTimeoutMs: number;
  };
  readonly rescoreBatchSize: number;
  readonly shutdownTimeoutMs: number;
  readonly corsOrigins: readonly string[];
  readonly apiTokens: readonly string[];
  readonly clair: {
    readonly url: string;
    readonly version: 'v4' | 'v2';
    readonly timeoutMs: number;
    readonly indexTimeoutMs: number;
    /** Clair v4 PSK authentication; undefined when CLAIR_PSK is not set. */
    readonly psk: { readonly key: string; readonly issuer: string } | undefined;
  };
  readonly scan: {
    /** Scans run at once by this instance's worker. */
    readonly concurrency: number;
    /** Platforms of multi-platform tags that are scanned (os/arch[/variant]). */
    readonly platforms: readonly string[];
    readonly maxAttempts: number;
    /** First retry delay; doubled per attempt. */
    readonly retryBaseMs: number;
    /** How long a claimed job stays owned without a heartbeat (a dead instance's jobs are taken over after it). */
    readonly leaseMs: number;
    readonly pollMs: number;
    /** Re-read Clair v4 vulnerability reports of scanned digests this often; 0 turns it off. */
    readonly refreshIntervalMs: number;
    /** False: this instance serves the API but runs no scans (another instance does). */
    readonly worker: boolean;
    readonly findingsBatchSize: number;
  };
  readonly cveSummaries: {
    /** Background pass over dirty CVE summaries this often (and soon after a scan); 0 turns it off. */
    readonly intervalMs: number;
    /** Dirty markers read per batch. */
    readonly batch: number;
  };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * Reads and validates configuration from an environment map (process.env at the entry point).
 * Throws ConfigError naming every bad key.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.keys(Env.shape);
  const input: Record<string, string> = {};
  for (const key of known) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const parsed = Env.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  return deepFreeze({
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    mongo: { uri: e.MONGODB_URI, embeddedPort: e.EMBEDDED_MONGO_PORT, ferretdbBinary: e.FERRETDB_BINARY },
    dataDir: e.DATA_DIR,
    secretKey: e.SECRET_KEY,
    registry: { timeoutMs: e.REGISTRY_TIMEOUT_MS, testTimeoutMs: e.REGISTRY_TEST_TIMEOUT_MS },
    rescoreBatchSize: e.RESCORE_BATCH_SIZE,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    corsOrigins: e.CORS_ORIGINS,
    apiTokens: e.API_TOKENS,
    clair: {
      url: e.CLAIR_URL.replace(/\/+$/, ''),
      version: e.CLAIR_VERSION,
      timeoutMs: e.CLAIR_TIMEOUT_MS,
      indexTimeoutMs: e.CLAIR_INDEX_TIMEOUT_MS,
      psk: e.CLAIR_PSK ? { key: e.CLAIR_PSK, issuer: e.CLAIR_PSK_ISSUER } : undefined,
    },
    scan: {
      concurrency: e.SCAN_CONCURRENCY,
      platforms: e.SCAN_PLATFORMS,
      maxAttempts: e.SCAN_MAX_ATTEMPTS,
      retryBaseMs: e.SCAN_RETRY_BASE_MS,
      leaseMs: e.SCAN_LEASE_MS,
      pollMs: e.SCAN_POLL_MS,
      refreshIntervalMs: e.SCAN_REFRESH_INTERVAL_MS,
      worker: e.SCAN_WORKER === 'true',
      findingsBatchSize: e.FINDINGS_BATCH_SIZE,
    },
    cveSummaries: { intervalMs: e.CVE_SUMMARY_INTERVAL_MS, batch: e.CVE_SUMMARY_BATCH },
  });
}

import { z } from 'zod';
import { LEVELS, type Level } from '../domain/severity';
import { cronProblem } from '../domain/cron';
import { DEFAULT_EGRESS_DENY, parseCidr } from '../clients/http/egress-policy';

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

function csvOf(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A comma-separated CIDR list; each entry is checked with the parser the egress policy uses. */
const cidrList = z.array(z.string()).superRefine((list, ctx) => {
  for (const c of list) {
    try {
      parseCidr(c);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  }
});

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
  API_READ_TOKENS: csv.default([]),
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
  SUPPRESSION_SWEEP_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
  ALERT_WEBHOOK_URLS: csv
    .pipe(z.array(z.url({ protocol: /^https?$/, error: 'must be http(s) URLs, comma-separated' })))
    .default([]),
  ALERT_MIN_LEVEL: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(LEVELS, { error: `must be one of ${LEVELS.join(', ')}` }))
    .default('high'),
  ALERT_SECRET: z.string().min(16, 'must be at least 16 characters (openssl rand -hex 32)').optional(),
  ALERT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5000),
  ALERT_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(30).default(8),
  ALERT_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
  ALERT_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(2000),
  ALERT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  ALERT_WORKER: z.enum(['true', 'false'], { error: 'must be true or false' }).default('true'),
  SCAN_REGISTRY_CONCURRENCY: z.coerce.number().int().min(0).max(1000).default(2),
  DISCOVERY_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  SCAN_ALL_SCHEDULE: z
    .string()
    .refine((v) => cronProblem(v) === null, { error: (i) => `cron expression ${cronProblem(String(i.input))}` })
    .optional(),
  SCHEDULE_TIMEZONE: z
    .string()
    .refine(isTimezone, 'must be an IANA time zone such as UTC or Europe/Berlin')
    .default('UTC'),
  SCHEDULER_TICK_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  SCHEDULER: z.enum(['true', 'false'], { error: 'must be true or false' }).default('true'),
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters (openssl rand -hex 32)').optional(),
  REGISTRY_MAX_RPS: z.coerce.number().min(0.1).max(10_000).default(50),
  REGISTRY_BURST: z.coerce.number().int().min(1).max(100_000).default(2000),
  REGISTRY_429_RETRIES: z.coerce.number().int().min(0).max(20).default(3),
  REGISTRY_MAX_RETRY_AFTER_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
  CVE_SUMMARY_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  CVE_SUMMARY_BATCH: z.coerce.number().int().min(1).max(10_000).default(200),
  IMAGE_DIRTY_DRAIN_MS: z.coerce.number().int().min(0).max(3_600_000).default(5_000),
  IMAGE_DIRTY_MIN_AGE_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  IMAGE_RECONCILE_MS: z.coerce.number().int().min(0).max(604_800_000).default(3_600_000),
  IMAGE_RECOMPUTE_BATCH: z.coerce.number().int().min(1).max(10_000).default(200),
  EGRESS_DENY: z
    .string()
    .transform((v) => (v.trim().toLowerCase() === 'none' ? [] : csvOf(v)))
    .pipe(cidrList)
    .default([...DEFAULT_EGRESS_DENY]),
  EGRESS_ALLOW: csv.pipe(cidrList).optional(),
  OUTBOUND_MAX_RESPONSE_MB: z.coerce.number().int().min(1).max(4096).default(64),
  OUTBOUND_MAX_API_RESPONSE_MB: z.coerce.number().int().min(1).max(1024).default(8),
  RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  RATE_LIMIT_WRITES: z.coerce.number().int().min(0).max(1_000_000).default(600),
  RATE_LIMIT_SCANS: z.coerce.number().int().min(0).max(1_000_000).default(60),
  WEBHOOK_INBOX_WORKER: z.enum(['true', 'false'], { error: 'must be true or false' }).default('true'),
  WEBHOOK_INBOX_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
  WEBHOOK_INBOX_RETENTION_HOURS: z.coerce.number().int().min(1).max(8760).default(24),
});

const SecretKey = z
  .string()
  .regex(/^[A-Za-z0-9+/=_-]{32,}$/, 'must be at least 32 base64 characters (openssl rand -base64 32)');

// Read only by `npm run rotate-secret-key` (scripts/rotate-secret-key.ts).
const RotationEnv = z.object({
  NEW_SECRET_KEY: SecretKey,
  OLD_SECRET_KEY: SecretKey.optional(),
  SECRET_KEY: SecretKey.optional(),
  MONGODB_URI: Env.shape.MONGODB_URI,
  DATA_DIR: Env.shape.DATA_DIR,
  EMBEDDED_MONGO_PORT: Env.shape.EMBEDDED_MONGO_PORT,
  FERRETDB_BINARY: Env.shape.FERRETDB_BINARY,
});

export interface RotationConfig {
  /** The key the secrets are sealed with now: OLD_SECRET_KEY, else SECRET_KEY; undefined: DATA_DIR/secret.key. */
  readonly oldKey: string | undefined;
  readonly newKey: string;
  readonly mongo: Config['mongo'];
  readonly dataDir: string;
}

/** Configuration of the SECRET_KEY rotation command. Throws ConfigError naming every bad key. */
export function loadRotationConfig(env: NodeJS.ProcessEnv = process.env): RotationConfig {
  const input: Record<string, string> = {};
  for (const key of Object.keys(RotationEnv.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const parsed = RotationEnv.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const oldKey = e.OLD_SECRET_KEY ?? e.SECRET_KEY;
  if (oldKey === e.NEW_SECRET_KEY)
    throw new ConfigError('invalid configuration:\n  NEW_SECRET_KEY: is the key in use now; generate a new one');
  return deepFreeze({
    oldKey,
    newKey: e.NEW_SECRET_KEY,
    mongo: { uri: e.MONGODB_URI, embeddedPort: e.EMBEDDED_MONGO_PORT, ferretdbBinary: e.FERRETDB_BINARY },
    dataDir: e.DATA_DIR,
  });
}

function isTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

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
    /** Requests per second one registry client sends at most once its burst is spent (discovery and scans of this instance). */
    readonly maxRequestsPerSecond: number;
    /** Requests one registry client sends at full speed before maxRequestsPerSecond applies (token bucket size). */
    readonly requestBurst: number;
    /** Retries of a call answered 429, each after the reply's Retry-After (bounded by maxRetryAfterMs). */
    readonly retries429: number;
    readonly maxRetryAfterMs: number;
    /** Bound of the connection test run on create and on PUT ?repository=. */
    readonly testTimeoutMs: number;
  };
  readonly rescoreBatchSize: number;
  readonly shutdownTimeoutMs: number;
  readonly corsOrigins: readonly string[];
  /** Bearer tokens with every right on /api. */
  readonly apiTokens: readonly string[];
  /** Bearer tokens that may only read (GET and the list/search POSTs); a write gets 5007/403. */
  readonly apiReadTokens: readonly string[];
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
    /** Scans of one registry running at once across all instances; 0 = no cap. */
    readonly perRegistryConcurrency: number;
    /** Tags one discovery resolves at once (HEAD, and manifest/config reads of changed tags). */
    readonly discoveryConcurrency: number;
  };
  readonly suppressions: {
    /** How often expired suppressions are deactivated (and their images recounted); 0 turns the sweep off. */
    readonly sweepMs: number;
  };
  readonly alerts: {
    /** Receivers from configuration (besides those managed through /api/alerts/webhooks). */
    readonly webhookUrls: readonly string[];
    /** Lowest level the configured receivers hear about. */
    readonly minLevel: Level;
    /** HMAC-SHA256 key of the configured receivers; undefined: sent unsigned. Never logged. */
    readonly secret: string | undefined;
    readonly timeoutMs: number;
    /** Attempts per delivery before it is recorded as failed. */
    readonly maxAttempts: number;
    /** First retry delay; doubled per attempt (capped at one hour). */
    readonly retryBaseMs: number;
    readonly pollMs: number;
    /** Delivered and failed deliveries are kept this long (the outbox is an audit trail, not an archive). */
    readonly retentionDays: number;
    /** False: this instance delivers nothing (another one does); alerts are still queued. */
    readonly worker: boolean;
  };
  readonly schedule: {
    /** Default cron of the global scan-all schedule, used until one is set through the API. */
    readonly scanAllDefault: string | undefined;
    readonly timezone: string;
    /** How often the scheduler looks for due slots. */
    readonly tickMs: number;
    /** False: this instance never fires schedules (another one does). */
    readonly enabled: boolean;
  };
  /** Shared secret of POST /api/webhooks/registry; undefined disables the endpoint. */
  readonly webhookSecret: string | undefined;
  readonly cveSummaries: {
    /** Background pass over dirty CVE summaries this often (and soon after a scan); 0 turns it off. */
    readonly intervalMs: number;
    /** Dirty markers read per batch. */
    readonly batch: number;
  };
  /** The images' derived state (src/modules/images/image-owner.ts). */
  readonly images: {
    /** Drain of dirty image markers this often; 0 turns it off. */
    readonly drainMs: number;
    /** Markers younger than this are left to the writer still recomputing them. */
    readonly minAgeMs: number;
    /** Recompute of every digest this often (one instance per interval); 0 turns it off. */
    readonly reconcileMs: number;
    /** Markers or digests per recompute batch. */
    readonly batch: number;
  };
  /** The outbound HTTP layer (src/clients/http/outbound.ts): egress policy and reply caps. */
  readonly outbound: {
    /** CIDRs never connected to (checked on the resolved address). */
    readonly deny: readonly string[];
    /** When set, the only CIDRs connected to. */
    readonly allow: readonly string[] | undefined;
    /** Cap of registry and Clair replies. */
    readonly maxResponseBytes: number;
    /** Cap of vendor API and alert receiver replies. */
    readonly maxApiResponseBytes: number;
  };
  /** Per-client request rates (429 with Retry-After beyond them); 0 turns a limit off. */
  readonly rateLimit: {
    readonly windowMs: number;
    /** POST/PUT/DELETE under /api per window, except the read-only POST list endpoints. */
    readonly writes: number;
    /** POST /api/scanner/scan per window. */
    readonly scans: number;
  };
  readonly webhookInbox: {
    /** Whether this instance runs the inbox worker (WEBHOOK_INBOX_WORKER); pushes are stored either way. */
    readonly worker: boolean;
    /** How often the inbox worker looks for stored push events. */
    readonly pollMs: number;
    /** Processed events are kept this long (idempotency by event id holds for that long). */
    readonly retentionHours: number;
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
  // One role per token: a token in both lists would have its rights decided by list order.
  if (e.API_READ_TOKENS.some((t) => e.API_TOKENS.includes(t)))
    throw new ConfigError(
      'invalid configuration:\n  API_READ_TOKENS: a token is also in API_TOKENS; give each token one role',
    );
  return deepFreeze({
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    mongo: { uri: e.MONGODB_URI, embeddedPort: e.EMBEDDED_MONGO_PORT, ferretdbBinary: e.FERRETDB_BINARY },
    dataDir: e.DATA_DIR,
    secretKey: e.SECRET_KEY,
    registry: {
      timeoutMs: e.REGISTRY_TIMEOUT_MS,
      testTimeoutMs: e.REGISTRY_TEST_TIMEOUT_MS,
      maxRequestsPerSecond: e.REGISTRY_MAX_RPS,
      requestBurst: e.REGISTRY_BURST,
      retries429: e.REGISTRY_429_RETRIES,
      maxRetryAfterMs: e.REGISTRY_MAX_RETRY_AFTER_MS,
    },
    rescoreBatchSize: e.RESCORE_BATCH_SIZE,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    corsOrigins: e.CORS_ORIGINS,
    apiTokens: e.API_TOKENS,
    apiReadTokens: e.API_READ_TOKENS,
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
      perRegistryConcurrency: e.SCAN_REGISTRY_CONCURRENCY,
      discoveryConcurrency: e.DISCOVERY_CONCURRENCY,
    },
    suppressions: { sweepMs: e.SUPPRESSION_SWEEP_MS },
    alerts: {
      webhookUrls: e.ALERT_WEBHOOK_URLS,
      minLevel: e.ALERT_MIN_LEVEL,
      secret: e.ALERT_SECRET,
      timeoutMs: e.ALERT_TIMEOUT_MS,
      maxAttempts: e.ALERT_MAX_ATTEMPTS,
      retryBaseMs: e.ALERT_RETRY_BASE_MS,
      pollMs: e.ALERT_POLL_MS,
      retentionDays: e.ALERT_RETENTION_DAYS,
      worker: e.ALERT_WORKER === 'true',
    },
    schedule: {
      scanAllDefault: e.SCAN_ALL_SCHEDULE?.trim(),
      timezone: e.SCHEDULE_TIMEZONE,
      tickMs: e.SCHEDULER_TICK_MS,
      enabled: e.SCHEDULER === 'true',
    },
    webhookSecret: e.WEBHOOK_SECRET,
    cveSummaries: { intervalMs: e.CVE_SUMMARY_INTERVAL_MS, batch: e.CVE_SUMMARY_BATCH },
    images: {
      drainMs: e.IMAGE_DIRTY_DRAIN_MS,
      minAgeMs: e.IMAGE_DIRTY_MIN_AGE_MS,
      reconcileMs: e.IMAGE_RECONCILE_MS,
      batch: e.IMAGE_RECOMPUTE_BATCH,
    },
    outbound: {
      deny: e.EGRESS_DENY,
      allow: e.EGRESS_ALLOW && e.EGRESS_ALLOW.length > 0 ? e.EGRESS_ALLOW : undefined,
      maxResponseBytes: e.OUTBOUND_MAX_RESPONSE_MB * 1024 * 1024,
      maxApiResponseBytes: e.OUTBOUND_MAX_API_RESPONSE_MB * 1024 * 1024,
    },
    rateLimit: { windowMs: e.RATE_LIMIT_WINDOW_MS, writes: e.RATE_LIMIT_WRITES, scans: e.RATE_LIMIT_SCANS },
    webhookInbox: {
      worker: e.WEBHOOK_INBOX_WORKER === 'true',
      pollMs: e.WEBHOOK_INBOX_POLL_MS,
      retentionHours: e.WEBHOOK_INBOX_RETENTION_HOURS,
    },
  });
}

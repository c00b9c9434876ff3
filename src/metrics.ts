import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The Prometheus registry served at GET /metrics, and the named metrics the service updates.
 * Module-level on purpose: one process serves one registry, and jest loads modules afresh per test
 * file, so nothing is registered twice. Metric objects are inert until updated; process metrics are
 * only collected once `collectProcessMetrics()` runs (createApp calls it).
 */
export const registry = new Registry();

/** Every HTTP request: method, Express route pattern (never the raw URL) and status code. */
export const httpRequestDurationHistogram = new Histogram({
  name: 'vulnscan_http_request_duration_seconds',
  help: 'HTTP request duration in seconds, by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

/** Scan jobs by state (`pending`, `scanning`, ...); the scan scheduler sets it. */
export const scanJobsGauge = new Gauge({
  name: 'vulnscan_scan_jobs',
  help: 'Scan jobs by state',
  labelNames: ['state'] as const,
  registers: [registry],
});

/** Duration of one image scan, from Clair index request to stored findings. */
export const scanDurationHistogram = new Histogram({
  name: 'vulnscan_scan_duration_seconds',
  help: 'Duration of one image scan in seconds',
  buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800],
  registers: [registry],
});

/** Failed calls to Clair, by reason (`timeout`, `status`, `parse`, `network`, ...). */
export const clairErrorsCounter = new Counter({
  name: 'vulnscan_clair_errors_total',
  help: 'Failed calls to Clair, by reason',
  labelNames: ['reason'] as const,
  registers: [registry],
});

/** Failed calls to registries, by reason (`auth`, `timeout`, `status`, `network`, ...). */
export const registryErrorsCounter = new Counter({
  name: 'vulnscan_registry_errors_total',
  help: 'Failed calls to container registries, by reason',
  labelNames: ['reason'] as const,
  registers: [registry],
});

let processMetricsOn = false;

/** Adds Node's default process metrics (CPU, memory, event loop, GC) to the registry; idempotent. */
export function collectProcessMetrics(): void {
  if (processMetricsOn) return;
  collectDefaultMetrics({ register: registry });
  processMetricsOn = true;
}

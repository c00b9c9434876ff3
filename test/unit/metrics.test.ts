import {
  clairErrorsCounter,
  collectProcessMetrics,
  registry,
  registryErrorsCounter,
  scanDurationHistogram,
  scanJobsGauge,
} from '../../src/metrics';

describe('metrics registry', () => {
  it('When process metrics are switched on twice, then nothing is registered twice', async () => {
    collectProcessMetrics();
    expect(() => collectProcessMetrics()).not.toThrow();
    expect(await registry.getSingleMetricAsString('process_cpu_user_seconds_total')).toMatch(/^# HELP/);
  });

  it('When the named metrics are updated, then the registry exposes them with their labels', async () => {
    scanJobsGauge.set({ state: 'pending' }, 3);
    scanDurationHistogram.observe(42);
    clairErrorsCounter.inc({ reason: 'timeout' });
    registryErrorsCounter.inc({ reason: 'auth' }, 2);

    const text = await registry.metrics();

    expect(text).toMatch(/^vulnscan_scan_jobs\{state="pending"\} 3$/m);
    expect(text).toMatch(/^vulnscan_scan_duration_seconds_count 1$/m);
    expect(text).toMatch(/^vulnscan_clair_errors_total\{reason="timeout"\} 1$/m);
    expect(text).toMatch(/^vulnscan_registry_errors_total\{reason="auth"\} 2$/m);
  });

  it('When the module is loaded again in isolation, then it builds its own registry without a clash', () => {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const again = require('../../src/metrics') as typeof import('../../src/metrics');
      expect(again.registry).not.toBe(registry);
      expect(() => again.collectProcessMetrics()).not.toThrow();
    });
  });
});

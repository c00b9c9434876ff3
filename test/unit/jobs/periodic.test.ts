import { backoffMs, createPeriodic } from '../../../src/jobs/periodic';
import { createLogger } from '../../../src/logger';

/** A pino logger whose lines the test can read. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('debug', {
    write: (s: string) => {
      lines.push(JSON.parse(s) as Record<string, unknown>);
    },
  });
  return { log, lines };
}

describe('backoffMs', () => {
  it('When there are no failures, then the delay is the interval; each failure doubles it up to the cap', () => {
    expect([0, 1, 2, 3, 4, 10, 100].map((f) => backoffMs(1000, f, 5000))).toEqual([
      1000, 2000, 4000, 5000, 5000, 5000, 5000,
    ]);
  });

  it('When the cap is below the interval, then the interval is the cap', () => {
    expect(backoffMs(60_000, 3, 30_000)).toBe(60_000);
  });
});

describe('createPeriodic', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('When the task rejects, then the rejection is logged with the task name, never escapes, and ticks back off', async () => {
    const { log, lines } = capturingLogger();
    const run = jest.fn().mockRejectedValue(Object.assign(new Error('boom'), { name: 'TypeError' }));
    const unhandled = jest.fn();
    process.on('unhandledRejection', unhandled);
    const p = createPeriodic({ name: 'sweep', everyMs: 100, maxBackoffMs: 400, run, log, needsDatabase: false });
    try {
      p.start();
      for (const [wait, calls] of [
        [100, 1],
        [199, 1],
        [1, 2],
        [400, 3],
        [400, 4],
      ] as const) {
        await jest.advanceTimersByTimeAsync(wait);
        expect(run).toHaveBeenCalledTimes(calls);
      }
      expect(p.failures).toBe(4);
      const failed = lines.filter((l) => l.msg === 'periodic task failed; backing off');
      expect(failed).toHaveLength(4);
      expect(failed[0]).toMatchObject({ task: 'sweep', err: 'boom', failures: 1, retryInMs: 200 });
      expect(failed[3]).toMatchObject({ task: 'sweep', failures: 4, retryInMs: 400 });
    } finally {
      await p.stop();
      process.off('unhandledRejection', unhandled);
    }
    expect(unhandled).not.toHaveBeenCalled();
  });

  it('When the task succeeds again, then the failure count resets and the interval is back to everyMs', async () => {
    const { log, lines } = capturingLogger();
    const run = jest.fn().mockRejectedValueOnce(new Error('away')).mockResolvedValue(undefined);
    const p = createPeriodic({ name: 'refresh', everyMs: 100, run, log, needsDatabase: false });
    p.start();
    await jest.advanceTimersByTimeAsync(100);
    expect(p.failures).toBe(1);
    await jest.advanceTimersByTimeAsync(200);
    expect(run).toHaveBeenCalledTimes(2);
    expect(p.failures).toBe(0);
    await jest.advanceTimersByTimeAsync(100);
    expect(run).toHaveBeenCalledTimes(3);
    expect(lines.some((l) => l.msg === 'periodic task succeeded again' && l.task === 'refresh')).toBe(true);
    await p.stop();
  });

  it('When a tick takes longer than the interval, then ticks never overlap and stop() waits for the one running', async () => {
    const { log } = capturingLogger();
    let release!: () => void;
    let inFlight = 0;
    let maxInFlight = 0;
    const run = jest.fn(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((r) => (release = r));
      inFlight--;
    });
    const p = createPeriodic({ name: 'slow', everyMs: 10, run, log, needsDatabase: false });
    p.start();
    await jest.advanceTimersByTimeAsync(100);
    expect(run).toHaveBeenCalledTimes(1);
    expect(p.runNow()).toBeInstanceOf(Promise);
    expect(run).toHaveBeenCalledTimes(1);

    let stopped = false;
    const stopping = p.stop().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(50);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(stopped).toBe(true);
    expect(maxInFlight).toBe(1);
    await jest.advanceTimersByTimeAsync(1000);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('When runNow() is called and the task throws, then it resolves (the failure is logged)', async () => {
    const { log, lines } = capturingLogger();
    const p = createPeriodic({
      name: 'once',
      everyMs: 1000,
      run: () => Promise.reject(new Error('nope')),
      log,
      needsDatabase: false,
    });
    await expect(p.runNow()).resolves.toBeUndefined();
    expect(lines.find((l) => l.task === 'once')).toMatchObject({ err: 'nope', failures: 1 });
  });
});

import { createPollLoops } from '../../../src/jobs/poll-loops';

/** Lets pending promise callbacks run (fake timers do not move on their own). */
const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('createPollLoops', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('When several loops sleep and stop is called, then every loop wakes and stop resolves without waiting out the grace', async () => {
    const runOnce = jest.fn(async () => false);
    const loops = createPollLoops({ count: 3, pollMs: 60_000, runOnce, onError: jest.fn() });
    loops.start();
    await flush();
    expect(runOnce).toHaveBeenCalledTimes(3);

    let stopped = false;
    const stopping = loops.stop(600_000).then(() => (stopped = true));
    await flush();

    // No timer was advanced: only woken loops can have ended the wait.
    expect(stopped).toBe(true);
    await stopping;
    expect(loops.running).toBe(false);
    expect(runOnce).toHaveBeenCalledTimes(3);
  });

  it('When runOnce finds work, then the loop asks again at once; when it finds none, after pollMs', async () => {
    let work = 2;
    const runOnce = jest.fn(async () => work-- > 0);
    const loops = createPollLoops({ count: 1, pollMs: 1000, runOnce, onError: jest.fn() });
    loops.start();
    await flush();
    expect(runOnce).toHaveBeenCalledTimes(3);

    await jest.advanceTimersByTimeAsync(999);
    expect(runOnce).toHaveBeenCalledTimes(3);
    await jest.advanceTimersByTimeAsync(1);
    expect(runOnce).toHaveBeenCalledTimes(4);
    await loops.stop(10);
  });

  it('When loops sleep and wake is called, then each asks for work again without waiting out pollMs', async () => {
    const runOnce = jest.fn(async () => false);
    const loops = createPollLoops({ count: 2, pollMs: 60_000, runOnce, onError: jest.fn() });
    loops.start();
    await flush();
    expect(runOnce).toHaveBeenCalledTimes(2);

    loops.wake();
    await flush();

    // No timer was advanced: only the wake-up can have brought the second round.
    expect(runOnce).toHaveBeenCalledTimes(4);
    expect(loops.running).toBe(true);
    await loops.stop(10);
  });

  it('When runOnce keeps throwing, then onError gets each error with its count and the loop backs off exponentially up to the cap', async () => {
    const boom = new Error('database away');
    const runOnce = jest.fn().mockRejectedValue(boom);
    const onError = jest.fn();
    const loops = createPollLoops({ count: 1, pollMs: 500, runOnce, onError, maxBackoffMs: 3000 });
    loops.start();
    await flush();
    expect(onError).toHaveBeenLastCalledWith(boom, 1);

    // 1000 (500 × 2), then 2000, then 3000 (capped), then 3000 again.
    for (const [wait, calls] of [
      [999, 1],
      [1, 2],
      [1999, 2],
      [1, 3],
      [3000, 4],
      [3000, 5],
    ] as const) {
      await jest.advanceTimersByTimeAsync(wait);
      expect(runOnce).toHaveBeenCalledTimes(calls);
    }
    expect(onError).toHaveBeenLastCalledWith(boom, 5);
    await loops.stop(10);
  });

  it('When runOnce succeeds after failures, then the count starts again and the next sleep is pollMs', async () => {
    const runOnce = jest.fn().mockRejectedValueOnce(new Error('away')).mockResolvedValue(false);
    const onError = jest.fn();
    const loops = createPollLoops({ count: 1, pollMs: 500, runOnce, onError });
    loops.start();
    await flush();
    await jest.advanceTimersByTimeAsync(1000);
    expect(runOnce).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(500);
    expect(runOnce).toHaveBeenCalledTimes(3);
    expect(onError).toHaveBeenCalledTimes(1);
    await loops.stop(10);
  });

  it('When onError itself throws, then no rejection leaves the loop and it goes on', async () => {
    const runOnce = jest.fn().mockRejectedValueOnce(new Error('away')).mockResolvedValue(false);
    const loops = createPollLoops({
      count: 1,
      pollMs: 100,
      runOnce,
      onError: () => {
        throw new Error('logger broke');
      },
    });
    loops.start();
    await flush();
    await jest.advanceTimersByTimeAsync(200);
    expect(runOnce).toHaveBeenCalledTimes(2);
    await loops.stop(10);
  });
});

/**
 * `count` loops that each call `runOnce` until it finds no work, then sleep `pollMs` (or until
 * stopped) before asking again. The scan worker and the alert delivery worker share it. An error
 * from `runOnce` (the database is away) is reported to `onError` and the loop goes on after a sleep.
 */
export interface PollLoops {
  start(): void;
  /** Stops asking for work, wakes every sleeping loop, and waits for loops in flight up to `graceMs`. */
  stop(graceMs: number): Promise<void>;
  /** Wakes every sleeping loop now (work was just queued in this process), instead of after `pollMs`. */
  wake(): void;
  readonly running: boolean;
}

export function createPollLoops(opts: {
  count: number;
  pollMs: number;
  runOnce: () => Promise<boolean>;
  onError: (err: unknown) => void;
}): PollLoops {
  let running = false;
  const loops: Array<Promise<void>> = [];
  const wakers = new Set<() => void>();

  const sleep = () =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, opts.pollMs);
      wakers.add(wake);
    });

  async function loop(): Promise<void> {
    while (running) {
      let worked = false;
      try {
        worked = await opts.runOnce();
      } catch (err) {
        opts.onError(err);
      }
      if (!worked && running) await sleep();
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      for (let i = 0; i < opts.count; i++) loops.push(loop());
    },
    async stop(graceMs) {
      running = false;
      for (const wake of [...wakers]) wake();
      const all = Promise.allSettled(loops.splice(0));
      await Promise.race([all, new Promise((r) => setTimeout(r, graceMs).unref())]);
    },
    wake() {
      for (const w of [...wakers]) w();
    },
    get running() {
      return running;
    },
  };
}

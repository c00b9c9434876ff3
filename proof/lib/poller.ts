/**
 * A steady reader, open loop: every `intervalMs` it sends the next of `paths` (with `headers`),
 * whether or not earlier requests have answered (at most `maxInFlight` at once), so a request stuck
 * in the service never hides how fast the following ones are answered. Each request is bounded by
 * `timeoutMs`; one that gets no reply (refused, reset, timed out) counts under status 0.
 */
export interface PollSample {
  /** When it was sent (epoch ms). */
  at: number;
  path: string;
  status: number;
  /** The envelope's code, when the body was one. */
  code: number | null;
  ms: number;
}

export interface Poller {
  /** Every reply, in the order they came. */
  readonly samples: PollSample[];
  /** Count of replies by `<status>/<code>` (code is the envelope's, or '-'), sent at or after `since`. */
  counts(since?: number): Record<string, number>;
  stop(): Promise<void>;
}

export function startPoller(opts: {
  baseUrl: () => string;
  paths: string[];
  headers?: Record<string, string>;
  intervalMs?: number;
  maxInFlight?: number;
  timeoutMs?: number;
}): Poller {
  const samples: PollSample[] = [];
  const inFlight = new Set<Promise<void>>();
  let n = 0;
  const send = async (path: string) => {
    const t0 = Date.now();
    let status: number;
    let code: number | null = null;
    try {
      const res = await fetch(`${opts.baseUrl()}${path}`, {
        headers: opts.headers,
        signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
      });
      status = res.status;
      const body = (await res.json().catch(() => null)) as { code?: unknown } | null;
      code = typeof body?.code === 'number' ? body.code : null;
    } catch {
      status = 0;
    }
    samples.push({ at: t0, path, status, code, ms: Date.now() - t0 });
  };
  const timer = setInterval(() => {
    if (inFlight.size >= (opts.maxInFlight ?? 50)) return;
    const p = send(opts.paths[n++ % opts.paths.length]).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }, opts.intervalMs ?? 50);
  return {
    samples,
    counts(since = 0) {
      const out: Record<string, number> = {};
      for (const s of samples) {
        if (s.at < since) continue;
        const k = `${s.status}/${s.code ?? '-'}`;
        out[k] = (out[k] ?? 0) + 1;
      }
      return out;
    },
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
    },
  };
}

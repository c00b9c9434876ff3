/**
 * A steady reader: `concurrency` loops each GET one of `paths` in turn (with `headers`), each request
 * bounded by `timeoutMs`, and count the replies by HTTP status and envelope code. A request that gets
 * no reply (refused, reset, timed out) counts under status 0.
 */
export interface PollSample {
  at: number;
  path: string;
  status: number;
  code: number | null;
  ms: number;
}

export interface Poller {
  /** Every reply, in the order they came. */
  readonly samples: PollSample[];
  /** Count of replies by `<status>/<code>` (code is the envelope's, or '-'). */
  counts(since?: number): Record<string, number>;
  stop(): Promise<void>;
}

export function startPoller(opts: {
  baseUrl: () => string;
  paths: string[];
  headers?: Record<string, string>;
  concurrency?: number;
  intervalMs?: number;
  timeoutMs?: number;
}): Poller {
  const samples: PollSample[] = [];
  let running = true;
  let n = 0;
  const loop = async () => {
    while (running) {
      const p = opts.paths[n++ % opts.paths.length];
      const t0 = Date.now();
      let status: number;
      let code: number | null = null;
      try {
        const res = await fetch(`${opts.baseUrl()}${p}`, {
          headers: opts.headers,
          signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
        });
        status = res.status;
        const body = (await res.json().catch(() => null)) as { code?: unknown } | null;
        code = typeof body?.code === 'number' ? body.code : null;
      } catch {
        status = 0;
      }
      samples.push({ at: t0, path: p, status, code, ms: Date.now() - t0 });
      if (opts.intervalMs) await new Promise((r) => setTimeout(r, opts.intervalMs));
    }
  };
  const loops = Array.from({ length: opts.concurrency ?? 2 }, () => loop());
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
      running = false;
      await Promise.all(loops);
    },
  };
}

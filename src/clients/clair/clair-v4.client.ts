import { ScannerError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import { ClairHttp, retryDelayMs, sleep, type ClairClientOptions, type ClairReply } from './clair-http';
import { mapV4Report } from './clair.mapping';
import { V4Error, V4IndexReport, V4IndexState, V4VulnerabilityReport } from './clair.schemas';
import type { ClairClient, ScanInput, ScanReport } from './clair.types';

const INDEX = '/indexer/api/v1/index_report';
const INDEX_STATE = '/indexer/api/v1/index_state';
const VULN_REPORT = '/matcher/api/v1/vulnerability_report';

/** Clair's own `{code, message}` error text, or the raw body's first line. */
function clairMessage(reply: ClairReply): string {
  try {
    const e = V4Error.safeParse(JSON.parse(reply.body));
    if (e.success && (e.data.message || e.data.code)) return (e.data.message || e.data.code)!;
  } catch {
    // not JSON
  }
  return reply.body.trim().split('\n')[0]?.slice(0, 300) || 'no detail given';
}

/**
 * Clair v4 client: indexes a manifest (blocking `POST /indexer/api/v1/index_report`), then reads
 * `GET /matcher/api/v1/vulnerability_report/{digest}`. Throws ScannerError (5001; 504 on timeout).
 */
export function createClairV4Client(opts: ClairClientOptions): ClairClient {
  const http = new ClairHttp({ ...opts, version: 'v4' });

  async function index(input: ScanInput, ctx: Ctx): Promise<void> {
    const what = `index image ${input.manifestDigest}`;
    const body = {
      hash: input.manifestDigest,
      layers: input.layers.map((l) => ({
        hash: l.digest,
        uri: l.uri,
        // Clair v4 takes every header as an array of values.
        headers: Object.fromEntries(Object.entries(l.headers).map(([k, v]) => [k, [v]])),
        ...(l.mediaType ? { media_type: l.mediaType } : {}),
      })),
    };
    for (let attempt = 1; ; attempt++) {
      const reply = await http.call(ctx, { method: 'POST', path: INDEX, what, body, timeoutMs: opts.indexTimeoutMs });
      if (reply.status === 201) {
        const report = http.parse(V4IndexReport, reply, what);
        if (report.state === 'IndexError' || report.success === false)
          throw new ScannerError(`Clair could not ${what}: ${report.err || 'index error without a reason'}`);
        return;
      }
      if (reply.status === 429 && attempt < http.retry.attempts) {
        const delay = retryDelayMs(attempt, http.retry, reply.headers['retry-after']);
        http.log(ctx)?.info({ attempt, delayMs: delay }, 'clair is busy indexing (429); retrying');
        await sleep(delay);
        continue;
      }
      if (reply.status === 429)
        throw new ScannerError(
          `Clair at ${http.baseUrl} is still busy (429 Too Many Requests) after ${attempt} tries to ${what}; ` +
            'try again later or raise indexer.index_report_request_concurrency',
        );
      if (reply.status === 400) throw new ScannerError(`Clair refused to ${what}: ${clairMessage(reply)}`);
      if (reply.status >= 500) throw new ScannerError(`Clair could not ${what}: ${clairMessage(reply)}`);
      throw http.unexpected(reply, what, clairMessage(reply));
    }
  }

  /** The index report's error, to explain a 404 on the vulnerability report. */
  async function indexError(digest: string, ctx: Ctx): Promise<string> {
    const what = `read the index report of ${digest}`;
    const reply = await http.call(ctx, { method: 'GET', path: `${INDEX}/${digest}`, what });
    if (reply.status === 404) return 'Clair has no index report for it';
    if (reply.status !== 200) throw http.unexpected(reply, what, clairMessage(reply));
    const r = http.parse(V4IndexReport, reply, what);
    if (r.state === 'IndexError' || r.err) return `indexing failed: ${r.err || 'no reason given'}`;
    return `its index report is in state ${r.state ?? 'unknown'}, not IndexFinished`;
  }

  /** Reads the vulnerability report; null on 404. Retries 202 (no vulnerability data yet) a bounded number of times. */
  async function vulnerabilityReport(digest: string, ctx: Ctx): Promise<ScanReport | null> {
    const what = `read the vulnerability report of ${digest}`;
    for (let attempt = 1; ; attempt++) {
      const reply = await http.call(ctx, { method: 'GET', path: `${VULN_REPORT}/${digest}`, what });
      if (reply.status === 200) return mapV4Report(http.parse(V4VulnerabilityReport, reply, what));
      if (reply.status === 404) return null;
      if (reply.status === 202 || reply.status === 429) {
        if (attempt >= http.retry.reportAttempts)
          throw new ScannerError(
            reply.status === 202
              ? `Clair has no vulnerability data yet (updaters still running or nothing imported); asked ${attempt} times for ${digest}`
              : `Clair at ${http.baseUrl} is still busy (429 Too Many Requests) after ${attempt} tries to ${what}`,
          );
        const delay = retryDelayMs(attempt, http.retry, reply.headers['retry-after']);
        http.log(ctx)?.info({ attempt, delayMs: delay, status: reply.status }, 'clair vulnerability report not ready');
        await sleep(delay);
        continue;
      }
      throw http.unexpected(reply, what, clairMessage(reply));
    }
  }

  return {
    version: 'v4',

    async ping(ctx) {
      try {
        const reply = await http.call(ctx, { method: 'GET', path: INDEX_STATE, what: 'read the indexer state' });
        return reply.status === 200;
      } catch {
        return false;
      }
    },

    async scan(input, ctx) {
      if (!input.layers.length) throw new ScannerError(`image ${input.manifestDigest} has no layers to scan`);
      await index(input, ctx);
      const report = await vulnerabilityReport(input.manifestDigest, ctx);
      if (report) return report;
      throw new ScannerError(
        `Clair has no vulnerability report for ${input.manifestDigest}: ${await indexError(input.manifestDigest, ctx)}`,
      );
    },

    report(digest, ctx) {
      return vulnerabilityReport(digest, ctx);
    },

    async indexState(ctx) {
      const what = 'read the indexer state';
      const reply = await http.call(ctx, { method: 'GET', path: INDEX_STATE, what });
      if (reply.status !== 200) throw http.unexpected(reply, what, clairMessage(reply));
      return http.parse(V4IndexState, reply, what).state;
    },
  };
}

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import type { Logger } from '../../logger';
import type { Download } from './vulnerabilities.service';

/**
 * Streams a download with backpressure. The first chunk is produced before any header is sent, so
 * an error until then (database down, ...) still gets the normal error envelope. An error after it
 * destroys the connection without the final chunk of the chunked encoding: clients see a failed
 * transfer, never a file that looks complete (a JSON array also lacks its closing bracket).
 */
export async function sendDownload(res: Response, d: Download, log: Logger): Promise<void> {
  const first = await d.chunks.next();
  res.status(200);
  res.setHeader('Content-Type', d.contentType);
  res.setHeader('Content-Disposition', `attachment; filename="${d.filename}"`);
  res.setHeader('Cache-Control', 'no-store');
  async function* all(): AsyncGenerator<string> {
    if (!first.done) yield first.value;
    yield* d.chunks;
  }
  try {
    await pipeline(Readable.from(all(), { objectMode: false }), res);
  } catch (err) {
    // Headers are gone: nothing to reply; the pipeline destroyed the response, which aborts it.
    log.error({ err: (err as Error).message, file: d.filename }, 'export aborted mid-stream');
    res.destroy();
  }
}

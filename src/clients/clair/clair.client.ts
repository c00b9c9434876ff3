import { createClairV2Client } from './clair-v2.client';
import { createClairV4Client } from './clair-v4.client';
import type { ClairClientOptions } from './clair-http';
import type { ClairClient } from './clair.types';
import { ScannerError } from '../../errors/app-error';
import { clairErrorsCounter } from '../../metrics';
import { countErrors } from '../error-metrics';

/**
 * A Clair client for the configured generation: v4 (current) or the legacy v2 API. Every failed
 * call is counted in vulnscan_clair_errors_total by reason.
 */
export function createClairClient(opts: ClairClientOptions): ClairClient {
  const client = opts.version === 'v2' ? createClairV2Client(opts) : createClairV4Client(opts);
  return countErrors(client, clairErrorsCounter, (e): e is ScannerError => e instanceof ScannerError);
}

import { createClairV2Client } from './clair-v2.client';
import { createClairV4Client } from './clair-v4.client';
import type { ClairClientOptions } from './clair-http';
import type { ClairClient } from './clair.types';

/** A Clair client for the configured generation: v4 (current) or the legacy v2 API. */
export function createClairClient(opts: ClairClientOptions): ClairClient {
  return opts.version === 'v2' ? createClairV2Client(opts) : createClairV4Client(opts);
}

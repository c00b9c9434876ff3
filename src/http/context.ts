import type { Logger } from '../logger';

/** What services and clients receive instead of req/res: a logger bound to the request or job. */
export interface Ctx {
  log: Logger;
  requestId?: string;
}

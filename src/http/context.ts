import type { Logger } from '../logger';

/** What services and clients receive instead of req/res: a logger bound to the request or job. */
export interface Ctx {
  log: Logger;
  requestId?: string;
  /**
   * Aborted when the work must stop (its lease was lost): outbound calls made with this context are
   * cancelled, and the work checks it between steps. Absent: nothing cancels the work.
   */
  signal?: AbortSignal;
}

import type { Config } from '../config';
import type { Logger } from '../logger';

/** What createApp needs; later modules add their clients here. */
export interface AppDeps {
  config: Config;
  logger: Logger;
  /** Resolves true when Clair answers; /readyz reports it (null without it) and never fails on it. */
  clairPing?: () => Promise<boolean>;
}

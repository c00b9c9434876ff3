import type { Config } from '../config';
import type { Logger } from '../logger';

/** What createApp needs; later modules add their clients here. */
export interface AppDeps {
  config: Config;
  logger: Logger;
}

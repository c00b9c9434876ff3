import type { ClairClient } from '../clients/clair';
import { outboundFor, type Outbound } from '../clients/http/outbound';
import type { Config } from '../config';
import type { SecretBox } from '../crypto/secret-box';
import type { Logger } from '../logger';

/** What createApp needs; later modules add their clients here. */
export interface AppDeps {
  config: Config;
  logger: Logger;
  /** Resolves true when Clair answers; /readyz reports it (null without it) and never fails on it. */
  clairPing?: () => Promise<boolean>;
  /** Encrypts registry passwords; when absent, built from SECRET_KEY (or DATA_DIR/secret.key). */
  secretBox?: SecretBox;
  /** Called after a registry was created (fire-and-forget), e.g. to start its first discovery. */
  onRegistryCreated?: (key: string) => void;
  /** The scanner; when absent, built from CLAIR_* configuration. */
  clair?: ClairClient;
  /** Owner id of this instance's leases and job claims; a random one when absent. */
  instanceId?: string;
  /** The outbound HTTP layer; when absent, built from EGRESS_* / OUTBOUND_* configuration. */
  outbound?: Outbound;
}

/** The outbound layer the deps carry, else the one of the configuration (built once per config). */
export function outboundOf(deps: AppDeps): Outbound {
  return deps.outbound ?? outboundFor(deps.config.outbound);
}

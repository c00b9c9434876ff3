import { RegistryError } from '../../../errors/app-error';
import type { Logger } from '../../../logger';
import { registryErrorsCounter } from '../../../metrics';
import { countErrors } from '../../error-metrics';
import type { Outbound } from '../../http/outbound';
import type { RegistryTarget } from '../registry.types';
import { createBkrepoLister } from './bkrepo.lister';
import { createDockerhubLister } from './dockerhub.lister';
import { createHarborLister } from './harbor.lister';
import { type ImageLister, type RegistryKind, validateKindOptions } from './lister.types';
import { createSwrLister } from './swr.lister';
import { DEFAULT_POLITENESS, type Politeness } from './vendor-http';

export * from './lister.types';
export type { Politeness } from './vendor-http';

export interface CreateImageListerInput {
  kind: RegistryKind;
  /** The registry's `options`, validated here again (ParameterError 5003). */
  options: unknown;
  target: RegistryTarget;
  timeoutMs: number;
  logger?: Logger;
  /** Overrides of the 429 retry bounds; `options.maxRequestsPerSecond` sets the rate. */
  politeness?: Partial<Politeness>;
  /** The outbound layer (egress policy, caps); the default policy when absent. */
  outbound?: Outbound;
}

/**
 * The vendor lister of a registry, or null for kind `registry` (plain v2: the v2 client lists `_catalog`).
 * Throws ParameterError (5003) for invalid options; the lister throws RegistryError (5002).
 */
export function createImageLister(input: CreateImageListerInput): ImageLister | null {
  const lister = buildLister(input);
  // Failed vendor calls count in vulnscan_registry_errors_total like the v2 client's.
  return lister && countErrors(lister, registryErrorsCounter, (e): e is RegistryError => e instanceof RegistryError);
}

function buildLister(input: CreateImageListerInput): ImageLister | null {
  const { kind, target, timeoutMs } = input;
  const polite = (rps?: number): Politeness => ({
    ...DEFAULT_POLITENESS,
    ...input.politeness,
    ...(rps ? { maxRequestsPerSecond: rps } : {}),
  });
  input.logger?.debug({ kind, host: target.host }, 'creating vendor image lister');
  switch (kind) {
    case 'registry':
      validateKindOptions('registry', input.options);
      return null;
    case 'harbor': {
      const o = validateKindOptions('harbor', input.options);
      return createHarborLister(o, target, timeoutMs, polite(o.maxRequestsPerSecond), input.outbound);
    }
    case 'swr': {
      const o = validateKindOptions('swr', input.options);
      return createSwrLister(o, target, timeoutMs, polite(o.maxRequestsPerSecond), input.outbound);
    }
    case 'bkrepo': {
      const o = validateKindOptions('bkrepo', input.options);
      return createBkrepoLister(o, target, timeoutMs, polite(o.maxRequestsPerSecond), input.outbound);
    }
    case 'dockerhub': {
      const o = validateKindOptions('dockerhub', input.options);
      return createDockerhubLister(o, timeoutMs, polite(o.maxRequestsPerSecond), input.outbound);
    }
    default:
      // validateKindOptions names the allowed kinds.
      return validateKindOptions(kind as RegistryKind, input.options) as never;
  }
}

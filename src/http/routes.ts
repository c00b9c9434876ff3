import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { Express } from 'express';
import { alertsRouter, registerAlertsOpenApi } from '../modules/alerts';
import { registerOpsOpenApi } from '../modules/ops';
import { registerRegistriesOpenApi, registriesRouter } from '../modules/registries';
import { registerScannerOpenApi, scannerRouter } from '../modules/scanner';
import { registerSchedulesOpenApi, schedulesRouter } from '../modules/schedules';
import { registerWebhooksOpenApi } from '../modules/webhooks';
import { registerScoreOpenApi, scoreRouter } from '../modules/score';
import { registerSuppressionsOpenApi, suppressionsRouter } from '../modules/suppressions';
import { registerVulnerabilitiesOpenApi, scannerIntelRouter, vulnerabilitiesRouter } from '../modules/vulnerabilities';
import type { AppDeps } from './deps';

/**
 * Mounts every module router under /api. Order: (in app.ts) the ops endpoints, the webhooks (own
 * secret) and the /api token check, then these routers, then the JSON 404 and the error handler.
 */
export function mountRoutes(app: Express, deps: AppDeps): void {
  app.use('/api/score', scoreRouter(deps));
  app.use('/api/repository', registriesRouter(deps));
  // Before /api/scanner, whose router would otherwise see /schedule first.
  app.use('/api/scanner/schedule', schedulesRouter(deps));
  // History and exports live under /api/scanner but in the vulnerabilities module; paths do not overlap.
  app.use('/api/scanner', scannerIntelRouter(deps));
  app.use('/api/scanner', scannerRouter(deps));
  app.use('/api/suppressions', suppressionsRouter(deps));
  app.use('/api/alerts', alertsRouter(deps));
  app.use('/api/vulnerabilities', vulnerabilitiesRouter(deps));
}

/** Each module's OpenAPI registration, next to its routes. */
export const OPENAPI_REGISTRARS: Array<(registry: OpenAPIRegistry) => void> = [
  registerOpsOpenApi,
  registerScoreOpenApi,
  registerRegistriesOpenApi,
  registerScannerOpenApi,
  registerSuppressionsOpenApi,
  registerAlertsOpenApi,
  registerSchedulesOpenApi,
  registerWebhooksOpenApi,
  registerVulnerabilitiesOpenApi,
];

import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import type { AppDeps } from '../../http/deps';
import { errorResponse } from '../../http/openapi-parts';
import { EnvelopeOf, ok } from '../../http/envelope';
import { inputOf, validate } from '../../http/middleware/validate';
import { ScheduleView, UpdateSchedule } from './schedules.schemas';
import { createSchedulesService, type SchedulesService } from './schedules.service';

const services = new WeakMap<AppDeps, SchedulesService>();

/** The schedules service of an app (one per deps object). */
export function schedulesServiceFrom(deps: AppDeps): SchedulesService {
  let s = services.get(deps);
  if (!s) {
    s = createSchedulesService({
      timezone: deps.config.schedule.timezone,
      scanAllDefault: deps.config.schedule.scanAllDefault,
    });
    services.set(deps, s);
  }
  return s;
}

/** /api/scanner/schedule: GET and PUT the global scan-all schedule (Harbor's scanAll schedule). */
export function schedulesRouter(deps: AppDeps): Router {
  const service = schedulesServiceFrom(deps);
  const router = Router();
  router.get('/', async (_req, res) => {
    res.json(ok(await service.getGlobal()));
  });
  router.put('/', validate({ body: UpdateSchedule }), async (req, res) => {
    const { body } = inputOf<{ body: UpdateSchedule }>(res);
    res.json(ok(await service.updateGlobal(body, { log: req.log })));
  });
  return router;
}

export function registerSchedulesOpenApi(registry: OpenAPIRegistry): void {
  const json = { 'application/json': { schema: EnvelopeOf(ScheduleView) } };
  const err = errorResponse;
  registry.registerPath({
    method: 'get',
    path: '/api/scanner/schedule',
    tags: ['scanner'],
    summary: 'The scan-all schedule (cron), its next run and when it last fired',
    responses: { 200: { description: 'the schedule', content: json }, 503: err('database unavailable (5005)') },
  });
  registry.registerPath({
    method: 'put',
    path: '/api/scanner/schedule',
    tags: ['scanner'],
    summary:
      'Set the scan-all schedule: a cron expression (5 fields, or 6 with seconds first) fired once across all instances; "" turns it off',
    request: { body: { required: true, content: { 'application/json': { schema: UpdateSchedule } } } },
    responses: {
      200: { description: 'the schedule', content: json },
      400: err('invalid cron expression (5003)'),
      503: err('database unavailable (5005)'),
    },
  });
}

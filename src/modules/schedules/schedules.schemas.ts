import { z } from 'zod';

/** PUT /api/scanner/schedule: the scan-all cron; "" turns the schedule off. */
export const UpdateSchedule = z
  .strictObject({
    cron: z.string({ error: 'must be a string' }).trim().max(100, 'must be at most 100 characters'),
  })
  .meta({ id: 'UpdateSchedule', example: { cron: '0 3 * * *' } });
export type UpdateSchedule = z.infer<typeof UpdateSchedule>;

export const ScheduleView = z
  .object({
    cron: z.string().meta({ description: 'cron expression; "" when off', example: '0 3 * * *' }),
    enabled: z.boolean(),
    source: z.enum(['api', 'config', 'none']).meta({
      description: 'api: set with PUT; config: SCAN_ALL_SCHEDULE until a PUT; none: never set',
    }),
    timezone: z.string().meta({ example: 'UTC' }),
    nextRun: z.string().nullable(),
    lastSlot: z.string().nullable().meta({ description: 'the latest slot that fired (or was due when set)' }),
    lastFiredAt: z.string().nullable(),
    lastFiredBy: z.string().nullable().meta({ description: 'instance that fired it' }),
  })
  .meta({ id: 'Schedule' });
export type ScheduleView = z.infer<typeof ScheduleView>;

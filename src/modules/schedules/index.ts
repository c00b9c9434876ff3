export { schedulesRouter, registerSchedulesOpenApi, schedulesServiceFrom } from './schedules.router';
export {
  createSchedulesService,
  GLOBAL_SCHEDULE,
  type SchedulesService,
  type SchedulesDeps,
  type DueSlot,
} from './schedules.service';
export { ScheduleModel, ScheduleSlotModel, type ScheduleDoc } from './schedule.model';

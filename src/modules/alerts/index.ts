export { alertsRouter, registerAlertsOpenApi, alertsFrom, type Alerts } from './alerts.router';
export { createAlertsService, urlForLogs, SECRET_MASK, type AlertsService } from './alerts.service';
export { createAlertWorker, signBody, type AlertWorker } from './alerts.worker';
export {
  WebhookModel,
  DeliveryModel,
  AlertEntryModel,
  type WebhookDoc,
  type DeliveryDoc,
  type DeliveryState,
} from './alerts.model';
export { AlertPayload, type WebhookView } from './alerts.schemas';
export { createAlertOutbox, createAlertDeriver, entryId, type AlertOutbox, type AlertDeriver } from './alerts.outbox';

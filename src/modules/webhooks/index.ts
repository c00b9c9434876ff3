export { webhooksRouter, webhooksFrom, registerWebhooksOpenApi, type Webhooks } from './webhooks.router';
export { createWebhooksService, type WebhooksService } from './webhooks.service';
export { createInboxWorker, type InboxWorker } from './webhook-inbox.worker';
export { InboxModel, ReceiptModel, type InboxDoc } from './webhook-inbox.model';

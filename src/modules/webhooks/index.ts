export { webhooksRouter, registerWebhooksOpenApi } from './webhooks.router';
export { createWebhooksService, type WebhooksService } from './webhooks.service';

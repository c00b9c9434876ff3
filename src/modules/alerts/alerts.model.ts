import mongoose, { Schema } from 'mongoose';
import { LEVELS, type Level } from '../../domain/severity';

/** A receiver managed through /api/alerts/webhooks (configured ones live in ALERT_WEBHOOK_URLS). */
const webhookSchema = new Schema(
  {
    url: { type: String, required: true },
    minLevel: { type: String, enum: LEVELS, required: true },
    /** HMAC key sealed with the SecretBox (like registry passwords); '' when none. */
    secretEnc: { type: String, default: '' },
    enabled: { type: Boolean, default: true },
    /** Registry key: only images of this registry are announced; null: every registry. */
    repository: { type: String, default: null },
  },
  { timestamps: true, versionKey: false },
);
webhookSchema.index({ createdAt: -1, _id: -1 });

export interface WebhookDoc {
  _id: mongoose.Types.ObjectId;
  url: string;
  minLevel: Level;
  secretEnc: string;
  enabled: boolean;
  repository: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export const WebhookModel = mongoose.model<WebhookDoc>('AlertWebhook', webhookSchema, 'alert_webhooks');

export const DELIVERY_STATES = ['pending', 'sending', 'delivered', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/**
 * The outbox: one document per (event, receiver), written by the scan, sent by the delivery worker.
 * The body is stored as the exact bytes that are signed and sent, so every retry is identical.
 */
const deliverySchema = new Schema(
  {
    eventId: { type: String, required: true },
    /** `config:<n>` (n-th ALERT_WEBHOOK_URLS entry) or the webhook's _id. */
    receiver: { type: String, required: true },
    url: { type: String, required: true },
    body: { type: String, required: true },
    state: { type: String, enum: DELIVERY_STATES, default: 'pending' },
    attempts: { type: Number, default: 0 },
    notBefore: { type: Date, required: true },
    leaseOwner: { type: String, default: null },
    leaseUntil: { type: Date, default: null },
    lastStatus: { type: Number, default: null },
    lastError: { type: String, default: null },
    deliveredAt: { type: Date, default: null },
    /** Generation of the last claim (src/db/claim.ts). */
    claimSeq: { type: Number, default: 0 },
  },
  { timestamps: true, versionKey: false },
);
// Claims: due pending ones, and sending ones whose lease ran out (a dead instance's).
deliverySchema.index({ state: 1, notBefore: 1 });
deliverySchema.index({ state: 1, leaseUntil: 1 });
// Retention: finished deliveries older than ALERT_RETENTION_DAYS are deleted.
deliverySchema.index({ state: 1, updatedAt: 1 });
deliverySchema.index({ eventId: 1, receiver: 1 }, { unique: true });

export interface DeliveryDoc {
  _id: mongoose.Types.ObjectId;
  eventId: string;
  receiver: string;
  url: string;
  body: string;
  state: DeliveryState;
  attempts: number;
  notBefore: Date;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  claimSeq?: number;
  createdAt: Date;
  updatedAt: Date;
}

export const DeliveryModel = mongoose.model<DeliveryDoc>('AlertDelivery', deliverySchema, 'alert_deliveries');

/**
 * What each receiver has been told: one entry per (receiver, digest, CVE), `_id` =
 * `receiver|digest|cveId`. Inserting it is what decides that the receiver hears about that CVE of that
 * digest (once: the duplicate key refuses every later derivation); `eventId` names the delivery that
 * carries it, `queued` turns true once that delivery is in the outbox. Kept after deliveries are
 * purged: they are the memory that keeps an alert from being sent again.
 */
const entrySchema = new Schema(
  {
    _id: { type: String, required: true },
    receiver: { type: String, required: true },
    digest: { type: String, required: true },
    cveId: { type: String, required: true },
    eventId: { type: String, required: true },
    queued: { type: Boolean, default: false },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
// A delivery is built from its event's entries; a pass queues entries a crash left unqueued.
entrySchema.index({ eventId: 1 });
entrySchema.index({ queued: 1, at: 1 });

export interface AlertEntryDoc {
  _id: string;
  receiver: string;
  digest: string;
  cveId: string;
  eventId: string;
  queued: boolean;
  at: Date;
}

export const AlertEntryModel = mongoose.model<AlertEntryDoc>('AlertEntry', entrySchema, 'alert_entries');

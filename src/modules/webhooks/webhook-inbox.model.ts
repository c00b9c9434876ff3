import mongoose, { Schema } from 'mongoose';

export const INBOX_STATES = ['receiving', 'pending', 'running', 'done', 'failed'] as const;
export type InboxState = (typeof INBOX_STATES)[number];

/** What processing an event came to (kept for the audit trail and tests). */
export const INBOX_OUTCOMES = ['queued', 'unknownRegistry', 'gone', 'coalesced'] as const;
export type InboxOutcome = (typeof INBOX_OUTCOMES)[number];

/**
 * The webhook inbox: one work item per pushed tag of a delivery (all its events of that tag), stored
 * before the sender gets its 202 and discovered later by the inbox worker.
 */
const inboxSchema = new Schema(
  {
    /** Registry key from `?repository=` (resolved on receipt), else null: resolved from `hosts`. */
    repository: { type: String, default: null },
    /** host[:port] values naming the registry, best first. */
    hosts: { type: [String], default: [] },
    image: { type: String, required: true },
    tag: { type: String, required: true },
    /** Ids of the events this item stands for (see ReceiptModel). */
    eventIds: { type: [String], default: [] },
    /** Same value for events of the same tag and registry hint: one discovery serves all of them. */
    target: { type: String, required: true },
    state: { type: String, enum: INBOX_STATES, default: 'pending' },
    attempts: { type: Number, default: 0 },
    notBefore: { type: Date, required: true },
    leaseOwner: { type: String, default: null },
    leaseUntil: { type: Date, default: null },
    outcome: { type: String, enum: [...INBOX_OUTCOMES, null], default: null },
    /** The registry key the event was filed under, once resolved. */
    registry: { type: String, default: null },
    digests: { type: Number, default: 0 },
    queued: { type: Number, default: 0 },
    lastError: { type: String, default: null },
    /** Generation of the last claim (src/db/claim.ts). */
    claimSeq: { type: Number, default: 0 },
  },
  { timestamps: true, versionKey: false },
);
// Claims: due pending events, and running ones whose lease ran out (a dead instance's).
inboxSchema.index({ state: 1, notBefore: 1 });
inboxSchema.index({ target: 1, state: 1 });
inboxSchema.index({ updatedAt: 1 });

export interface InboxDoc {
  _id: mongoose.Types.ObjectId;
  eventIds: string[];
  repository: string | null;
  hosts: string[];
  image: string;
  tag: string;
  target: string;
  state: InboxState;
  attempts: number;
  notBefore: Date;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  outcome: InboxOutcome | null;
  registry: string | null;
  digests: number;
  queued: number;
  lastError: string | null;
  claimSeq: number;
  createdAt: Date;
  updatedAt: Date;
}

export const InboxModel = mongoose.model<InboxDoc>('WebhookInbox', inboxSchema, 'webhook_inbox');

/**
 * One receipt per received event id (distribution's `id`, or a hash of a Harbor resource): the unique
 * `_id` makes a re-delivered event a duplicate. Written once, never updated; purged with the inbox.
 */
const receiptSchema = new Schema(
  {
    _id: { type: String, required: true },
    /** The work item the event went into. */
    item: { type: Schema.Types.ObjectId, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
receiptSchema.index({ at: 1 });

export const ReceiptModel = mongoose.model('WebhookReceipt', receiptSchema, 'webhook_receipts');

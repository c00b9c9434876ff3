import mongoose, { Schema } from 'mongoose';

export const INBOX_STATES = ['pending', 'running', 'done', 'failed'] as const;
export type InboxState = (typeof INBOX_STATES)[number];

/** What processing an event came to (kept for the audit trail and tests). */
export const INBOX_OUTCOMES = ['queued', 'unknownRegistry', 'gone', 'coalesced'] as const;
export type InboxOutcome = (typeof INBOX_OUTCOMES)[number];

/**
 * The webhook inbox: one document per received tag push, stored before the sender gets its 202 and
 * discovered later by the inbox worker. `_id` is the event id (distribution's `id`, or a hash of a
 * Harbor resource), so a re-delivered event is stored once.
 */
const inboxSchema = new Schema(
  {
    _id: { type: String, required: true },
    /** Registry key from `?repository=` (resolved on receipt), else null: resolved from `hosts`. */
    repository: { type: String, default: null },
    /** host[:port] values naming the registry, best first. */
    hosts: { type: [String], default: [] },
    image: { type: String, required: true },
    tag: { type: String, required: true },
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
  _id: string;
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

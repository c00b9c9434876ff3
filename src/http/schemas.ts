import { z } from 'zod';

/** Request-schema pieces several modules share, so a rule and its message are written once. */

/** A MongoDB ObjectId as 24 hex characters (`_id` in bodies, `:id` in paths). */
export const ObjectIdString = z.string().regex(/^[0-9a-fA-F]{24}$/, 'must be a 24-character hex id');

/** `?size=` of the paged GET lists: 1..500, default 20. */
export const QuerySize = z.coerce
  .number({ error: 'must be a number' })
  .int('must be an integer')
  .min(1, 'must be between 1 and 500')
  .max(500, 'must be between 1 and 500')
  .default(20);

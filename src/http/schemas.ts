import { z } from 'zod';

/** Request-schema pieces several modules share, so a rule and its message are written once. */

/** A MongoDB ObjectId as 24 hex characters (`_id` in bodies, `:id` in paths). */
export const ObjectIdString = z.string().regex(/^[0-9a-fA-F]{24}$/, 'must be a 24-character hex id');

// Decimal digits only: `z.coerce.number` is `Number(v)`, which reads "0x10" as 16, "1e1" as 10 and
// "" or " " as 0, none of which the OpenAPI document's `integer` allows.
const DECIMAL = /^[0-9]{1,15}$/;

/**
 * An integer query or path parameter between `min` and `max` (inclusive), `def` when absent. Only a
 * string of decimal digits is converted; anything else ("0x10", "1e3", "-1", "", a repeated key) is
 * refused with 5003.
 */
export function QueryInt(min: number, max: number, def: number, description?: string) {
  const range = `must be between ${min} and ${max}`;
  const schema = z
    .preprocess(
      (v) => (typeof v === 'string' && DECIMAL.test(v) ? Number(v) : v),
      z
        .number({ error: 'must be a whole number in decimal digits' })
        .int('must be an integer')
        .min(min, range)
        .max(max, range),
    )
    .default(def);
  return description ? schema.meta({ description }) : schema;
}

/** `?size=` of the paged GET lists: 1..500, default 20. */
export const QuerySize = QueryInt(1, 500, 20);

import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { ParameterError } from '../../errors/app-error';
import { formatZodIssues } from '../../errors/to-app-error';
import { findUnsafeInput } from './json-body';

export interface ValidateSchemas {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
}

export interface ValidatedInput {
  params?: unknown;
  query?: unknown;
  body?: unknown;
}

/**
 * Parses params, query and body with zod and stores the result on `res.locals.input`.
 * Throws ParameterError (5003) naming each bad field. Never assigns to req.query (Express 5 forbids it).
 */
export function validate(schemas: ValidateSchemas): RequestHandler {
  return (req, res, next) => {
    const input: ValidatedInput = {};
    const problems: string[] = [];
    for (const part of ['params', 'query', 'body'] as const) {
      const schema = schemas[part];
      if (!schema) continue;
      const raw: unknown = part === 'body' ? (req.body ?? undefined) : req[part];
      // Again for bodies a router parsed itself (jsonBody checks the others), and for query and params.
      const unsafe = findUnsafeInput(raw, part);
      if (unsafe) {
        problems.push(unsafe);
        continue;
      }
      const result = schema.safeParse(raw);
      if (result.success) input[part] = result.data;
      else problems.push(formatZodIssues(result.error.issues, part));
    }
    if (problems.length) return next(new ParameterError(problems.join('; ')));
    res.locals.input = input;
    next();
  };
}

/** The validated input stored by `validate`, typed by the caller. */
export function inputOf<T>(res: { locals: Record<string, unknown> }): T {
  return res.locals.input as T;
}

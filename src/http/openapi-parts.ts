import type { z } from 'zod';
import { ErrorEnvelope } from './envelope';

/** OpenAPI building blocks every module's registrar uses (kept apart from openapi.ts, which imports the routes). */

/** `{'application/json': {schema}}`: a JSON request or response body. */
export const jsonContent = (schema: z.ZodType) => ({ 'application/json': { schema } });

/** An error reply: the `{code, data, message}` envelope with a description of when it comes. */
export const errorResponse = (description: string) => ({ description, content: jsonContent(ErrorEnvelope) });

/** The `X-Total-Count` header of paginated replies. */
export const totalCountHeader = (what = 'documents') => ({
  'X-Total-Count': { description: `${what} matching the filter`, schema: { type: 'integer' as const } },
});

import { z } from 'zod';

/** The reply body every endpoint sends: `{code, data, message}`. */
export interface Envelope<T> {
  code: number;
  data: T;
  message: string;
}

/** Success body: code 0, message "ok". */
export function ok<T>(data: T, message = 'ok'): Envelope<T> {
  return { code: 0, data, message };
}

/** Error body: `message` is the code's name (`paramException`), `data` the human-readable detail. */
export function fail(code: number, message: string, data: string | null = null): Envelope<string | null> {
  return { code, data, message };
}

/** OpenAPI schema of a success envelope around `data`. */
export function EnvelopeOf<T extends z.ZodType>(data: T) {
  return z.object({ code: z.literal(0), data, message: z.literal('ok') });
}

/** OpenAPI schema of an error envelope. */
export const ErrorEnvelope = z
  .object({
    code: z.number().int().meta({ example: 5003 }),
    data: z.string().nullable().meta({ example: 'body.high: must be a number between 0 and 1000' }),
    message: z.string().meta({ example: 'paramException' }),
  })
  .meta({ id: 'ErrorEnvelope' });

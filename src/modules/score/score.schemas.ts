import { z } from 'zod';
import { LEVELS, type Level } from '../../domain/severity';

const Weight = z
  .number({ error: 'must be a number' })
  .refine(Number.isFinite, 'must be a finite number')
  .min(0, 'must be between 0 and 1000')
  .max(1000, 'must be between 0 and 1000');

/** The six weights, as GET /api/score and PUT /api/score return them. */
export const Weights = z
  .object(Object.fromEntries(LEVELS.map((l) => [l, Weight])) as Record<Level, typeof Weight>)
  .meta({
    id: 'Weights',
    example: { critical: 10, high: 9, medium: 5, low: 3, negligible: 2, unknown: 1 },
  });
export type Weights = z.infer<typeof Weights>;

/** PUT /api/score body: any non-empty subset of the six weights; unknown keys are refused. */
export const UpdateWeights = Weights.partial()
  .strict()
  .refine((o) => Object.keys(o).length > 0, 'give at least one of critical, high, medium, low, negligible, unknown')
  .meta({ id: 'UpdateWeights', example: { low: 4 } });
export type UpdateWeights = z.infer<typeof UpdateWeights>;

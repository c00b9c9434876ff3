import { DEFAULT_WEIGHTS, type Weights } from '../../domain/scoring';
import { LEVELS } from '../../domain/severity';
import { ParameterError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import { rescoreAll } from '../images';
import { ScoreSettingsModel } from './score-settings.model';
import type { UpdateWeights } from './score.schemas';

function pickWeights(doc: Partial<Weights> | null): Weights {
  const w = { ...DEFAULT_WEIGHTS };
  for (const l of LEVELS) if (typeof doc?.[l] === 'number') w[l] = doc[l];
  return w;
}

/** The current weights (defaults until a PUT stored others). Throws DatabaseError via the driver. */
export async function get(): Promise<Weights> {
  const doc = await ScoreSettingsModel.findById('score').lean<Partial<Weights>>();
  return pickWeights(doc);
}

/**
 * Applies a partial update, persists it, and re-scores every stored image before returning, so
 * lists sorted by score are consistent once the reply arrives.
 * Throws ParameterError when no weight would stay above 0 (nothing is written then).
 */
export async function update(patch: UpdateWeights, opts: { batchSize: number }, ctx: Ctx): Promise<Weights> {
  const current = await get();
  const next = { ...current, ...patch };
  if (!LEVELS.some((l) => next[l] > 0)) {
    throw new ParameterError('body: at least one weight must be greater than 0');
  }
  await ScoreSettingsModel.updateOne({ _id: 'score' }, { $set: next }, { upsert: true });
  await rescoreAll(next, opts.batchSize, ctx);
  return next;
}

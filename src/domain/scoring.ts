import { LEVELS, type LevelCounts } from './severity';

export type Weights = LevelCounts;

export const DEFAULT_WEIGHTS: Readonly<Weights> = Object.freeze({
  critical: 10,
  high: 9,
  medium: 5,
  low: 3,
  negligible: 2,
  unknown: 1,
});

/**
 * An image's risk density (higher is worse):
 * Σ weight[level] × count[level] / (max weight × max(packages, 1)).
 * No findings give 0. Counts missing from `counts` count as 0.
 */
export function computeScore(counts: Partial<LevelCounts>, packages: number, weights: Weights): number {
  let sum = 0;
  let maxWeight = 0;
  for (const level of LEVELS) {
    sum += weights[level] * (counts[level] ?? 0);
    if (weights[level] > maxWeight) maxWeight = weights[level];
  }
  if (sum === 0 || maxWeight === 0) return 0;
  return sum / (maxWeight * Math.max(packages, 1));
}

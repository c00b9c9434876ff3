import { computeScore, DEFAULT_WEIGHTS } from '../../../src/domain/scoring';
import { normaliseLevel, LEVEL_RANK } from '../../../src/domain/severity';

describe('computeScore', () => {
  const seedWeights = { critical: 9, high: 9, medium: 5, low: 3, negligible: 2, unknown: 1 };

  it('When given the seed example (7 medium, 20 low, 16 negligible, 89 packages), then it gives 127/801 exactly', () => {
    const counts = { critical: 0, high: 0, medium: 7, low: 20, negligible: 16, unknown: 0 };
    expect(computeScore(counts, 89, seedWeights)).toBe(0.1585518102372035);
    expect(computeScore(counts, 89, { ...seedWeights, critical: 1 })).toBe(0.1585518102372035);
  });

  it('When the critical weight is the largest, then it becomes the divisor', () => {
    const score = computeScore({ critical: 1, high: 1 }, 10, DEFAULT_WEIGHTS);
    expect(score).toBeCloseTo((10 + 9) / (10 * 10), 15);
  });

  it('When the image has no findings, then the score is 0', () => {
    expect(computeScore({}, 50, DEFAULT_WEIGHTS)).toBe(0);
  });

  it('When the package count is 0, then it counts as 1', () => {
    expect(computeScore({ low: 2 }, 0, DEFAULT_WEIGHTS)).toBe((2 * 3) / 10);
  });

  it('When every weight is 0, then the score is 0 rather than NaN', () => {
    const zero = { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 };
    expect(computeScore({ high: 3 }, 5, zero)).toBe(0);
  });
});

describe('normaliseLevel', () => {
  it.each([
    ['Defcon1', 'critical'],
    ['CRITICAL', 'critical'],
    ['High', 'high'],
    ['medium', 'medium'],
    ['Negligible', 'negligible'],
    ['', 'unknown'],
    [undefined, 'unknown'],
    ['Important', 'unknown'],
  ])('When the scanner says %p, then the level is %p', (input, level) => {
    expect(normaliseLevel(input)).toBe(level);
  });

  it('When ranking, then Critical outranks High and Unknown ranks last', () => {
    expect(LEVEL_RANK.critical).toBeGreaterThan(LEVEL_RANK.high);
    expect(Math.min(...Object.values(LEVEL_RANK))).toBe(LEVEL_RANK.unknown);
  });
});

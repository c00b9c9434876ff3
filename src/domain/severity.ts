/** The six severity levels, highest first. Field names of per-level counts and weights. */
export const LEVELS = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;
export type Level = (typeof LEVELS)[number];

/** Capitalised form used in finding documents (`"High"`). */
export type LevelName = 'Critical' | 'High' | 'Medium' | 'Low' | 'Negligible' | 'Unknown';

export const LEVEL_NAMES: Record<Level, LevelName> = {
  critical: 'Critical',
  high: 'High',
  medium: 'Medium',
  low: 'Low',
  negligible: 'Negligible',
  unknown: 'Unknown',
};

/** Rank for sorting by severity: Critical 6 … Unknown 1 (higher is worse). */
export const LEVEL_RANK: Record<Level, number> = {
  critical: 6,
  high: 5,
  medium: 4,
  low: 3,
  negligible: 2,
  unknown: 1,
};

/**
 * Maps any scanner severity string to a level: case-insensitive; Clair v2's Defcon1 is Critical;
 * anything unrecognised is Unknown.
 */
export function normaliseLevel(severity: string | null | undefined): Level {
  const s = (severity ?? '').trim().toLowerCase();
  if (s === 'defcon1') return 'critical';
  return (LEVELS as readonly string[]).includes(s) ? (s as Level) : 'unknown';
}

export type LevelCounts = Record<Level, number>;

export function emptyCounts(): LevelCounts {
  return { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 };
}

import { randomUUID } from 'node:crypto';
import { DEFAULT_WEIGHTS, type Weights } from '../../domain/scoring';
import { LEVELS } from '../../domain/severity';
import { dropTicket, seqIs, takeTicket } from '../../db/claim';
import { ConflictError, ParameterError } from '../../errors/app-error';
import type { Ctx } from '../../http/context';
import { rescoreAll } from '../images';
import { ScoreSettingsModel } from './score-settings.model';
import type { UpdateWeights } from './score.schemas';

type StoredWeights = Partial<Weights> & { version?: number };

/** Re-scores a PUT may run when concurrent PUTs keep changing the weights under it. */
const MAX_RESCORE_ROUNDS = 3;

function pickWeights(doc: Partial<Weights> | null): Weights {
  const w = { ...DEFAULT_WEIGHTS };
  for (const l of LEVELS) if (typeof doc?.[l] === 'number') w[l] = doc[l];
  return w;
}

/** The weights with the version of the record they were read from (0 before the first update). */
export interface WeightsSnapshot {
  weights: Weights;
  version: number;
}

/** Reads the weights and their version. Throws DatabaseError via the driver. */
export async function getVersioned(): Promise<WeightsSnapshot> {
  const doc = await ScoreSettingsModel.findById('score').lean<StoredWeights>();
  return { weights: pickWeights(doc), version: doc?.version ?? 0 };
}

/**
 * The current weights, read from the database (defaults until a PUT stored others). Scoring code
 * uses this one: a stale weight there would be written into an image's score.
 * Throws DatabaseError via the driver.
 */
export async function get(): Promise<Weights> {
  return (await getVersioned()).weights;
}

export interface WeightsCache {
  /** From memory when read less than `ttlMs` ago (unless `fresh`), else one read shared by concurrent callers. */
  get(opts?: { fresh?: boolean }): Promise<Weights>;
  /** Records weights this process wrote, unless the cache already holds a newer version. */
  remember(s: WeightsSnapshot): void;
}

/**
 * The cache behind GET /api/score, one per app. An update through this app replaces the cached copy
 * at once; one through another instance is seen within `ttlMs`. A slow read never replaces a newer
 * version. Throws DatabaseError via the driver.
 */
export function createWeightsCache(ttlMs: number): WeightsCache {
  let cached: (WeightsSnapshot & { at: number }) | null = null;
  let inFlight: Promise<WeightsSnapshot> | null = null;
  const remember = (s: WeightsSnapshot, at = Date.now()) => {
    if (!cached || s.version >= cached.version) cached = { ...s, at };
  };
  return {
    async get(opts = {}) {
      if (!opts.fresh && cached && Date.now() - cached.at < ttlMs) return cached.weights;
      const startedAt = Date.now();
      // A fresh read must start after the request arrived: it does not join one already under way.
      const s = opts.fresh
        ? await getVersioned()
        : await (inFlight ??= getVersioned().finally(() => {
            inFlight = null;
          }));
      remember(s, startedAt);
      return s.version >= (cached?.version ?? 0) ? s.weights : cached!.weights;
    },
    remember: (s) => remember(s),
  };
}

const isDuplicateKey = (e: unknown) => (e as { code?: number } | null)?.code === 11000;

/** How long an update keeps trying while other updates win the record (and a dead holder's ticket goes stale). */
const WRITE_DEADLINE_MS = 15_000;
/** A ticket older than this belongs to an instance that died mid-update; the next writer removes it. */
const TICKET_STALE_MS = 10_000;

/**
 * Writes only the sent keys and moves `version` from v to v + 1, with one writer per version:
 * FerretDB 1.x runs an update as read-then-write of the whole document (concurrent `$set`s of
 * different keys and `$inc`s were lost, and two first upserts collided on `_id`), so a writer first
 * takes the ticket `score:<v+1>` (an insert against a unique `_id`, atomic on MongoDB and FerretDB
 * alike, src/db/claim.ts), then updates guarded by `version: v`. A writer that loses either step
 * reads again and retries, so no update's keys are lost and every update gets its own version.
 * Throws ParameterError when no weight would stay above 0 (checked against the version written over),
 * ConflictError when other writers kept winning for WRITE_DEADLINE_MS.
 */
async function writeWeights(patch: UpdateWeights): Promise<WeightsSnapshot> {
  const owner = randomUUID();
  const deadline = Date.now() + WRITE_DEADLINE_MS;
  for (;;) {
    const doc = await ScoreSettingsModel.findById('score').lean<StoredWeights>();
    const version = doc?.version ?? 0;
    const next = { ...pickWeights(doc), ...patch };
    if (!LEVELS.some((l) => next[l] > 0)) {
      throw new ParameterError('body: at least one weight must be greater than 0');
    }
    const ticket = `score:${version + 1}`;
    if (await takeTicket(ticket, owner, TICKET_STALE_MS)) {
      try {
        const res = await ScoreSettingsModel.updateOne(
          { _id: 'score', version: seqIs(version) as number },
          { $set: { ...patch, version: version + 1 } },
          { upsert: true },
        );
        if (res.matchedCount + res.upsertedCount > 0) return { weights: next, version: version + 1 };
      } catch (err) {
        // The guarded upsert matched nothing and tried an insert: another writer moved the version on.
        if (!isDuplicateKey(err)) throw err;
      } finally {
        await dropTicket(ticket);
      }
    }
    if (Date.now() > deadline) {
      throw new ConflictError('the weights are being changed by other requests at the same time; try again');
    }
    await new Promise((r) => setTimeout(r, 2 + Math.random() * 20));
  }
}

// Updates through this process write one at a time: 100 concurrent PUTs all retrying for the same
// ticket kept the database busy with losers; in line, each takes the ticket at its first attempt
// (other instances still contend through the ticket).
let writeQueue: Promise<unknown> = Promise.resolve();
function inLine<T>(fn: () => Promise<T>): Promise<T> {
  const run = writeQueue.then(fn, fn);
  writeQueue = run.catch(() => undefined);
  return run;
}

// Re-scores in this process, shared: a PUT waits until a re-score with its version (or a newer one)
// finished, and PUTs that arrive while one runs share the next run instead of one run each.
let rescoredVersion = -1;
let rescoring: Promise<void> | null = null;

async function rescoreRun(batchSize: number, ctx: Ctx): Promise<void> {
  for (let round = 1; ; round++) {
    const latest = await getVersioned();
    await rescoreAll(latest.weights, batchSize, ctx);
    rescoredVersion = Math.max(rescoredVersion, latest.version);
    // Another instance may have changed the weights while this ran: its own re-score may have
    // finished first, so the last word must be the newest weights.
    if (round >= MAX_RESCORE_ROUNDS || (await getVersioned()).version === latest.version) return;
  }
}

async function rescoredAtLeast(version: number, batchSize: number, ctx: Ctx): Promise<void> {
  while (rescoredVersion < version) {
    if (rescoring) {
      await rescoring.catch(() => undefined);
      continue;
    }
    rescoring = rescoreRun(batchSize, ctx).finally(() => {
      rescoring = null;
    });
    await rescoring;
  }
}

/**
 * Applies a partial update, persists it, and re-scores every stored image before returning, so
 * lists sorted by score are consistent once the reply arrives (with these weights or newer ones
 * written meanwhile). Returns the weights as this update left them, with the version it wrote.
 * Throws ParameterError when no weight would stay above 0 (nothing is written then).
 */
export async function update(patch: UpdateWeights, opts: { batchSize: number }, ctx: Ctx): Promise<WeightsSnapshot> {
  const written = await inLine(() => writeWeights(patch));
  await rescoredAtLeast(written.version, opts.batchSize, ctx);
  return written;
}

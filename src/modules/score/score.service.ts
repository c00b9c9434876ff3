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

interface GroupWrite {
  snapshot: WeightsSnapshot;
  /** Per patch, in order: true when it was refused (it would have left no weight above 0). */
  refused: boolean[];
}

/**
 * Writes `patches` (applied in order) as one update: only the sent keys, and `version` moves from v
 * to v + 1, with one writer per version. FerretDB 1.x runs an update as read-then-write of the
 * whole document (concurrent `$set`s of different keys and `$inc`s were lost, and two first upserts
 * collided on `_id`), so a writer first takes the ticket `score:<v+1>` (an insert against a unique
 * `_id`, atomic on MongoDB and FerretDB alike, src/db/claim.ts), then updates guarded by
 * `version: v`. A writer that loses either step reads again and retries, so no update's keys are
 * lost. A patch that would leave no weight above 0 (checked against the version written over, after
 * the patches before it) is refused and left out. Throws ConflictError when other writers kept
 * winning for WRITE_DEADLINE_MS.
 */
async function writeWeights(patches: UpdateWeights[]): Promise<GroupWrite> {
  const owner = randomUUID();
  const deadline = Date.now() + WRITE_DEADLINE_MS;
  for (;;) {
    const doc = await ScoreSettingsModel.findById('score').lean<StoredWeights>();
    const version = doc?.version ?? 0;
    let next = pickWeights(doc);
    const merged: UpdateWeights = {};
    const refused = patches.map((p) => {
      const candidate = { ...next, ...p };
      if (!LEVELS.some((l) => candidate[l] > 0)) return true;
      next = candidate;
      Object.assign(merged, p);
      return false;
    });
    if (!Object.keys(merged).length) return { snapshot: { weights: next, version }, refused };
    const ticket = `score:${version + 1}`;
    if (await takeTicket(ticket, owner, TICKET_STALE_MS)) {
      try {
        const res = await ScoreSettingsModel.updateOne(
          { _id: 'score', version: seqIs(version) as number },
          { $set: { ...merged, version: version + 1 } },
          { upsert: true },
        );
        if (res.matchedCount + res.upsertedCount > 0) {
          return { snapshot: { weights: next, version: version + 1 }, refused };
        }
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

// Updates through this process are written by one writer, a group at a time: 100 concurrent PUTs
// each retrying for the same ticket kept the database busy with losers, and one at a time they
// queued for seconds. Every PUT that arrives while a write is under way joins the next group, which
// is one database update (other instances still contend through the ticket).
interface Pending {
  patch: UpdateWeights;
  resolve: (r: { snapshot: WeightsSnapshot; refused: boolean }) => void;
  reject: (err: unknown) => void;
}
let pending: Pending[] = [];
let writing = false;

async function drainWrites(): Promise<void> {
  if (writing) return;
  writing = true;
  try {
    while (pending.length) {
      const group = pending;
      pending = [];
      try {
        const { snapshot, refused } = await writeWeights(group.map((g) => g.patch));
        group.forEach((g, i) => g.resolve({ snapshot, refused: refused[i] }));
      } catch (err) {
        for (const g of group) g.reject(err);
      }
    }
  } finally {
    writing = false;
  }
}

function queueWrite(patch: UpdateWeights): Promise<{ snapshot: WeightsSnapshot; refused: boolean }> {
  return new Promise((resolve, reject) => {
    pending.push({ patch, resolve, reject });
    void drainWrites();
  });
}

// Re-scores in this process, shared: a PUT waits for a re-score that started after its write, and
// PUTs that arrive while one runs share the next run instead of one run each. (Runs are counted
// rather than versions compared, so an emptied database starting again at version 1 is re-scored.)
let runsStarted = 0;
let runsDone = 0;
let rescoring: Promise<void> | null = null;

async function rescoreRun(batchSize: number, ctx: Ctx): Promise<void> {
  for (let round = 1; ; round++) {
    const latest = await getVersioned();
    await rescoreAll(latest.weights, batchSize, ctx, latest.version);
    // Another instance may have changed the weights while this ran: its own re-score may have
    // finished first, so the last word must be the newest weights.
    if (round >= MAX_RESCORE_ROUNDS || (await getVersioned()).version === latest.version) return;
  }
}

async function rescoredAfterNow(batchSize: number, ctx: Ctx): Promise<void> {
  const needed = runsStarted + 1;
  while (runsDone < needed) {
    if (rescoring) {
      await rescoring.catch(() => undefined);
      continue;
    }
    const seq = ++runsStarted;
    rescoring = rescoreRun(batchSize, ctx).finally(() => {
      rescoring = null;
    });
    await rescoring;
    runsDone = Math.max(runsDone, seq);
  }
}

/**
 * Applies a partial update, persists it, and re-scores every stored image before returning, so
 * lists sorted by score are consistent once the reply arrives (with these weights or newer ones
 * written meanwhile). Returns the weights and version after the write that carried this update
 * (concurrent PUTs through this process may share one write, and then one version).
 * Throws ParameterError when no weight would stay above 0 (nothing is written then).
 */
export async function update(patch: UpdateWeights, opts: { batchSize: number }, ctx: Ctx): Promise<WeightsSnapshot> {
  const { snapshot, refused } = await queueWrite(patch);
  if (refused) throw new ParameterError('body: at least one weight must be greater than 0');
  await rescoredAfterNow(opts.batchSize, ctx);
  return snapshot;
}

import mongoose from 'mongoose';

/**
 * Captures the queries the service sends (through mongoose's debug hook: every collection method
 * any model or `Model.collection` calls) and checks each against the indexes the models declare,
 * by MongoDB's equality-sort-range rule. FerretDB 1.x uses no secondary index, so a query plan
 * cannot be asked of the test server; this checks what MongoDB would be able to do with the
 * declared indexes (issue 16, item 4).
 */

export interface CapturedQuery {
  collection: string;
  op: string;
  filter: Record<string, unknown>;
  sort: Array<[string, 1 | -1]>;
}

export type IndexKeys = Array<[string, 1 | -1]>;

const READ_OPS = new Set([
  'find',
  'findOne',
  'countDocuments',
  'distinct',
  'aggregate',
  'updateOne',
  'updateMany',
  'deleteOne',
  'deleteMany',
  'findOneAndUpdate',
  'findOneAndDelete',
  'findOneAndReplace',
  'replaceOne',
]);

function normaliseSort(sort: unknown): Array<[string, 1 | -1]> {
  if (!sort || typeof sort !== 'object') return [];
  if (Array.isArray(sort))
    return sort.map((s) => [String((s as unknown[])[0]), Number((s as unknown[])[1]) < 0 ? -1 : 1]);
  if (sort instanceof Map) return [...sort.entries()].map(([k, v]) => [String(k), Number(v) < 0 ? -1 : 1]);
  return Object.entries(sort as Record<string, unknown>).map(([k, v]) => [k, Number(v) < 0 || v === 'desc' ? -1 : 1]);
}

/** The filter and sort of one collection call, from its arguments as mongoose's debug hook passes them. */
function shapeOf(op: string, args: unknown[]): { filter: Record<string, unknown>; sort: Array<[string, 1 | -1]> } {
  if (op === 'aggregate') {
    const pipeline = (args[0] ?? []) as Array<Record<string, unknown>>;
    const filter = (pipeline[0]?.$match as Record<string, unknown>) ?? {};
    const sortStage = pipeline[0]?.$match ? pipeline[1]?.$sort : pipeline[0]?.$sort;
    return { filter, sort: normaliseSort(sortStage) };
  }
  if (op === 'distinct') return { filter: (args[1] as Record<string, unknown>) ?? {}, sort: [] };
  const filter = (args[0] as Record<string, unknown>) ?? {};
  const options = (op === 'find' || op === 'findOne' || op === 'countDocuments' ? args[1] : args[2]) as
    { sort?: unknown } | undefined;
  return { filter, sort: normaliseSort(options?.sort) };
}

/** Starts capturing; `stop()` ends it and returns what was sent. */
export function captureQueries(): { stop(): CapturedQuery[] } {
  const captured: CapturedQuery[] = [];
  mongoose.set('debug', (collection: string, op: string, ...args: unknown[]) => {
    if (!READ_OPS.has(op)) return;
    const { filter, sort } = shapeOf(op, args);
    captured.push({ collection, op, filter, sort });
  });
  return {
    stop() {
      mongoose.set('debug', false);
      return captured;
    },
  };
}

/** Every index the registered models declare, by collection (`_id` included). */
export function declaredIndexes(): Map<string, IndexKeys[]> {
  const out = new Map<string, IndexKeys[]>();
  for (const name of mongoose.modelNames()) {
    const model = mongoose.model(name);
    const list: IndexKeys[] = [[['_id', 1]]];
    for (const [keys] of model.schema.indexes()) {
      list.push(Object.entries(keys).map(([k, v]) => [k, Number(v) < 0 ? -1 : 1]));
    }
    out.set(model.collection.collectionName, list);
  }
  return out;
}

interface FilterFields {
  eq: Set<string>;
  range: Set<string>;
}

const RANGE_OPS = new Set([
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$ne',
  '$nin',
  '$exists',
  '$regex',
  '$not',
  '$type',
  '$elemMatch',
]);

/** Equality and range fields of one conjunctive filter (no `$or`). */
function fieldsOf(
  filter: Record<string, unknown>,
  into: FilterFields = { eq: new Set(), range: new Set() },
): FilterFields {
  for (const [k, v] of Object.entries(filter)) {
    if (k === '$and') {
      for (const part of v as Array<Record<string, unknown>>) fieldsOf(part, into);
      continue;
    }
    if (k.startsWith('$')) continue;
    if (v instanceof RegExp) {
      into.range.add(k);
      continue;
    }
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !isObjectId(v)) {
      const ops = Object.keys(v);
      if (ops.some((o) => RANGE_OPS.has(o))) into.range.add(k);
      else if (ops.some((o) => o === '$eq' || o === '$in')) into.eq.add(k);
      else into.eq.add(k);
      continue;
    }
    into.eq.add(k);
  }
  return into;
}

function isObjectId(v: unknown): boolean {
  return (
    (v as { _bsontype?: string })?._bsontype === 'ObjectId' || (v as { _bsontype?: string })?._bsontype === 'ObjectID'
  );
}

/** The conjunctive branches a filter's top-level `$or` gives (each must be served by an index). */
function branches(filter: Record<string, unknown>): Array<Record<string, unknown>> {
  const { $or, ...rest } = filter as { $or?: Array<Record<string, unknown>> };
  if (!Array.isArray($or) || !$or.length) return [filter];
  return $or.map((b) => ({ ...rest, ...b }));
}

/**
 * How many leading keys of `index` serve a conjunctive filter and sort by the equality-sort-range
 * rule, or -1 when the index cannot give the sort (it would be sorted in memory) or does not apply.
 */
export function servedPrefix(index: IndexKeys, f: FilterFields, sort: Array<[string, 1 | -1]>): number {
  let i = 0;
  while (i < index.length && f.eq.has(index[i][0])) i++;
  const sortKeys = sort.filter(([k]) => !f.eq.has(k));
  let direction = 0;
  for (const [k, d] of sortKeys) {
    if (i >= index.length || index[i][0] !== k) return -1;
    const rel = index[i][1] === d ? 1 : -1;
    if (direction && rel !== direction) return -1;
    direction = rel;
    i++;
  }
  // A range key right after the sort (or after the equalities when there is no sort) narrows the scan too.
  while (i < index.length && f.range.has(index[i][0])) i++;
  const first = index[0][0];
  const applies = f.eq.has(first) || f.range.has(first) || (sortKeys.length > 0 && sortKeys[0][0] === first);
  return applies ? i : -1;
}

export interface PlanCheck {
  query: CapturedQuery;
  /** The best declared index per `$or` branch (null: none serves that branch). */
  indexes: Array<IndexKeys | null>;
}

/** Checks every captured query; returns the ones no declared index serves, and the indexes used. */
export function checkQueries(
  queries: readonly CapturedQuery[],
  indexes = declaredIndexes(),
): { unserved: PlanCheck[]; used: Map<string, Set<string>>; checked: number } {
  const unserved: PlanCheck[] = [];
  const used = new Map<string, Set<string>>();
  let checked = 0;
  for (const q of queries) {
    const declared = indexes.get(q.collection);
    if (!declared) continue;
    // A deliberate pass over the whole collection (a cursor with neither filter nor sort) needs no index.
    if (!Object.keys(q.filter).length && !q.sort.length) continue;
    checked++;
    const chosen: Array<IndexKeys | null> = [];
    for (const branch of branches(q.filter)) {
      const f = fieldsOf(branch);
      let best: IndexKeys | null = null;
      let bestLen = 0;
      for (const idx of declared) {
        const n = servedPrefix(idx, f, q.sort);
        if (n > bestLen || (n === bestLen && n > 0 && best && idx.length < best.length)) {
          best = idx;
          bestLen = n;
        }
      }
      chosen.push(best);
      if (best) {
        const set = used.get(q.collection) ?? new Set<string>();
        set.add(indexName(best));
        used.set(q.collection, set);
      }
    }
    if (chosen.some((c) => c === null)) unserved.push({ query: q, indexes: chosen });
  }
  return { unserved, used, checked };
}

export function indexName(keys: IndexKeys): string {
  return keys.map(([k, d]) => `${k}_${d}`).join('_');
}

/** One line per query, for a failure message. */
export function describe(check: PlanCheck): string {
  const { collection, op, filter, sort } = check.query;
  return `${collection}.${op} filter ${JSON.stringify(filter)} sort ${JSON.stringify(sort)}`;
}

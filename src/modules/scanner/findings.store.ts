import type { AnyBulkWriteOperation } from 'mongoose';
import type { Finding, ScanReport } from '../../clients/clair';
import { bulkWriteCapped, insertManyCapped } from '../../db/batch';
import { LEVEL_RANK, emptyCounts, normaliseLevel, type LevelCounts } from '../../domain/severity';
import type { Ctx } from '../../http/context';
import { ImageModel, markImagesDirty, recomputeImages, type ImageDoc } from '../images';
import { markCvesDirty } from '../vulnerabilities/cve-summaries';
import { FindingModel, type FindingDoc } from './finding.model';
import { ScanJobModel, type ScanJobDoc } from './scan-job.model';

/** What every image with a digest shows of its last report. */
export interface DigestSummary {
  namespace: string | null;
  packages: number;
  counts: LevelCounts;
  findings: number;
}

const key = (f: { cveId: string; type: string; version: string }) => `${f.cveId}\u0000${f.type}\u0000${f.version}`;

/** One finding per (cveId, package, version): a scanner may report one twice (two updaters); the worst level wins. */
export function dedupeFindings(findings: readonly Finding[]): Finding[] {
  const byKey = new Map<string, Finding>();
  for (const f of findings) {
    const k = key(f);
    const seen = byKey.get(k);
    if (!seen || LEVEL_RANK[normaliseLevel(f.level)] > LEVEL_RANK[normaliseLevel(seen.level)]) byKey.set(k, f);
  }
  return [...byKey.values()];
}

export function summarise(report: ScanReport, findings: readonly Finding[]): DigestSummary {
  const counts = emptyCounts();
  for (const f of findings) counts[normaliseLevel(f.level)]++;
  return { namespace: report.namespace, packages: report.packages, counts, findings: findings.length };
}

const STORED_FIELDS = ['versionFormat', 'description', 'link', 'level', 'fixedBy'] as const;

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/**
 * Stores a digest's report, writing only what changed: new findings are inserted in batches, changed
 * ones are rewritten (new `updated_at`), findings no longer reported get `fixedAt` (kept, not
 * deleted), and findings reported again unchanged are not written at all (`updated_at` is when a
 * finding last changed). Reads only this digest's findings, never the collection.
 * Returns the summary to copy onto the digest's images and the findings first seen now
 * (`newFindings`: never stored before for this digest; what alerts announce).
 */
export async function storeReport(
  digest: string,
  report: ScanReport,
  opts: {
    batchSize: number;
    now?: Date;
    /**
     * Called after the stored findings were read and before the first write, with how many findings
     * will be inserted, rewritten and fixed: where callers mark the digest dirty and check their
     * claim; a throw stops the store before anything is written.
     */
    beforeWrite?: (changes: { inserts: number; rewrites: number; fixed: number }) => Promise<void>;
  },
  ctx: Ctx,
): Promise<{ summary: DigestSummary; inserted: number; updated: number; fixed: number; newFindings: Finding[] }> {
  const started = Date.now();
  const now = opts.now ?? new Date();
  const findings = dedupeFindings(report.findings);

  const existing = new Map<string, Pick<FindingDoc, '_id' | 'cveId' | 'fixedAt' | (typeof STORED_FIELDS)[number]>>();
  const cursor = FindingModel.find(
    { digest },
    { cveId: 1, type: 1, version: 1, fixedAt: 1, versionFormat: 1, description: 1, link: 1, level: 1, fixedBy: 1 },
  )
    .lean<FindingDoc>()
    .batchSize(opts.batchSize)
    .cursor();
  for await (const doc of cursor) existing.set(key(doc), doc);

  const inserts: Array<Record<string, unknown>> = [];
  const newFindings: Finding[] = [];
  let unchanged = 0;
  const rewrites: AnyBulkWriteOperation[] = [];
  const rewritten: string[] = [];
  for (const f of findings) {
    const level = normaliseLevel(f.level);
    const fields = {
      versionFormat: f.versionFormat,
      description: f.description,
      link: f.link,
      level: f.level,
      fixedBy: f.fixedBy,
    };
    const k = key(f);
    const old = existing.get(k);
    existing.delete(k);
    if (!old) {
      newFindings.push(f);
      inserts.push({
        digest,
        cveId: f.cveId,
        type: f.type,
        version: f.version,
        ...fields,
        levelRank: LEVEL_RANK[level],
        created_at: now,
        updated_at: now,
        fixedAt: null,
        // Written with the finding, so a crash before the alert is queued loses nothing (alerts.outbox.ts).
        alertPending: true,
      });
    } else if (old.fixedAt == null && STORED_FIELDS.every((n) => old[n] === fields[n])) {
      unchanged++;
    } else {
      rewritten.push(f.cveId);
      rewrites.push({
        updateOne: {
          filter: { _id: old._id },
          update: { $set: { ...fields, levelRank: LEVEL_RANK[level], updated_at: now, fixedAt: null } },
        },
      });
    }
  }
  const goneDocs = [...existing.values()].filter((d) => d.fixedAt == null);
  const gone = goneDocs.map((d) => d._id);

  await opts.beforeWrite?.({ inserts: inserts.length, rewrites: rewrites.length, fixed: gone.length });
  // A concurrent store of the same digest may insert some first: theirs are as good as ours.
  await insertManyCapped(FindingModel.collection, inserts, { batchSize: opts.batchSize, ignoreDuplicates: true });
  await bulkWriteCapped(FindingModel, rewrites, { batchSize: opts.batchSize });
  for (const batch of chunks(gone, opts.batchSize)) {
    await FindingModel.updateMany({ _id: { $in: batch } }, { $set: { fixedAt: now } });
  }
  // The CVEs this digest gained, lost or whose level, fix or text changed: their summaries are stale.
  await markCvesDirty([...inserts.map((i) => i.cveId as string), ...rewritten, ...goneDocs.map((d) => d.cveId)]);
  const summary = summarise(report, findings);
  ctx.log.debug(
    {
      digest,
      inserted: inserts.length,
      updated: rewrites.length,
      unchanged,
      fixed: gone.length,
      ms: Date.now() - started,
    },
    'findings stored',
  );
  return {
    summary,
    inserted: inserts.length,
    updated: rewrites.length,
    fixed: gone.length,
    newFindings,
  };
}

/**
 * Records a finished scan's summary as the digest's scan result and recomputes its images: the
 * digest is marked dirty first, then its job gets the result (`firstScannedAt` on the first scan,
 * `scannedAt` = `now`; a job is upserted `done` for a scan stored outside the worker), then the
 * images are recomputed (src/modules/images, their only writer). The scan worker makes the same
 * writes itself, guarded by its claim. Throws what the driver throws.
 */
export async function recordScanResult(digest: string, summary: DigestSummary, now: Date, ctx?: Ctx): Promise<number> {
  await markImagesDirty([digest]);
  const job = await ScanJobModel.findOne({ digest }, { firstScannedAt: 1, repository: 1 }).lean<ScanJobDoc>();
  if (job) {
    await ScanJobModel.updateOne(
      { _id: job._id },
      { $set: { result: summary, scannedAt: now, firstScannedAt: job.firstScannedAt ?? now } },
    );
  } else {
    const img = await ImageModel.findOne({ digest }, { repository: 1, image: 1 }).lean<ImageDoc>();
    await ScanJobModel.updateOne(
      { digest },
      {
        $set: { result: summary, scannedAt: now },
        $setOnInsert: {
          repository: img?.repository ?? '',
          image: img?.image ?? '',
          state: 'done',
          attempts: 0,
          notBefore: now,
          queuedAt: now,
          finishedAt: now,
          firstScannedAt: now,
        },
      },
      { upsert: true },
    );
  }
  return recomputeImages([digest], ctx);
}

/** Former name of recordScanResult; the weights argument is not used (the stored weights are). */
export async function applySummary(
  digest: string,
  summary: DigestSummary,
  _weights: unknown,
  now: Date,
  ctx?: Ctx,
): Promise<number> {
  return recordScanResult(digest, summary, now, ctx);
}

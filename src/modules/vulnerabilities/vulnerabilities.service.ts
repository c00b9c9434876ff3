import type mongoose from 'mongoose';
import { NotFoundError } from '../../errors/app-error';
import { ImageModel, type ImageDoc } from '../images/image.model';
import type { RegistriesService } from '../registries';
import { FindingModel, type FindingDoc } from '../scanner/finding.model';
import { literal } from '../scanner/scanner.service';
import { ALL_REGISTRIES, CVE_SORT_FIELDS, CveSummaryModel, type CveSummaryDoc } from './cve-summary.model';
import { serialise } from './export-format';
import { presentImagesOf } from './present-images';
import { ImageHistoryModel, type ImageHistoryDoc } from './image-history.model';
import type {
  CveImageView,
  CveImagesQuery,
  CveView,
  ExportRow,
  HistoryPoint,
  HistoryQuery,
  ImageExportQuery,
  ListCvesBody,
  RegistryExportQuery,
} from './vulnerabilities.schemas';

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : '');

function toCveView(d: CveSummaryDoc): CveView {
  return {
    cveId: d.cveId,
    repository: d.registry === ALL_REGISTRIES ? null : d.registry,
    level: d.level as CveView['level'],
    images: d.images,
    tags: d.tags,
    digests: d.digests,
    fixable: d.fixable,
    description: d.description ?? '',
    link: d.link ?? '',
    packages: d.packages ?? [],
    updated_at: iso(d.computedAt),
  };
}

function toHistoryPoint(d: ImageHistoryDoc): HistoryPoint {
  return {
    repository: d.repository,
    image: d.image,
    tag: d.tag,
    platform: d.platform,
    at: iso(d.at),
    digest: d.digest,
    critical: d.critical,
    high: d.high,
    medium: d.medium,
    low: d.low,
    negligible: d.negligible,
    unknown: d.unknown,
    packages: d.packages,
    score: d.score ?? null,
  };
}

/** A file being exported: its name and its chunks, produced as the client reads them. */
export interface Download {
  filename: string;
  contentType: string;
  chunks: AsyncGenerator<string, void, undefined>;
}

type ExportImage = Pick<ImageDoc, '_id' | 'repository' | 'image' | 'tag' | 'platform' | 'digest'>;

const PAGE = 500;

/**
 * Image documents matching `filter`, in (image, _id) order, read a page at a time by key (never one
 * cursor held open while a slow client reads: an idle cursor would time out mid-export).
 */
async function* imagesOf(filter: Record<string, unknown>): AsyncGenerator<ExportImage> {
  let after: { image: string; _id: mongoose.Types.ObjectId } | null = null;
  for (;;) {
    const page: ExportImage[] = await ImageModel.find(
      after
        ? { ...filter, $or: [{ image: { $gt: after.image } }, { image: after.image, _id: { $gt: after._id } }] }
        : filter,
      { repository: 1, image: 1, tag: 1, platform: 1, digest: 1 },
    )
      .sort({ image: 1, _id: 1 })
      .limit(PAGE)
      .lean<ExportImage[]>();
    yield* page;
    if (page.length < PAGE) return;
    const last = page[page.length - 1]!;
    after = { image: last.image, _id: last._id };
  }
}

/** Open findings of one digest in (cveId, _id) order, a page at a time (index digest, fixedAt, cveId, _id). */
async function* openFindings(digest: string): AsyncGenerator<FindingDoc> {
  let after: { cveId: string; _id: mongoose.Types.ObjectId } | null = null;
  for (;;) {
    const base = { digest, fixedAt: null };
    const page: FindingDoc[] = await FindingModel.find(
      after
        ? { ...base, $or: [{ cveId: { $gt: after.cveId } }, { cveId: after.cveId, _id: { $gt: after._id } }] }
        : base,
    )
      .sort({ cveId: 1, _id: 1 })
      .limit(PAGE * 2)
      .lean<FindingDoc[]>();
    yield* page;
    if (page.length < PAGE * 2) return;
    const last = page[page.length - 1]!;
    after = { cveId: last.cveId, _id: last._id };
  }
}

async function* exportRows(filter: Record<string, unknown>): AsyncGenerator<ExportRow> {
  for await (const img of imagesOf(filter)) {
    if (!img.digest) continue;
    for await (const f of openFindings(img.digest)) {
      yield {
        registry: img.repository,
        image: img.image,
        tag: img.tag,
        platform: img.platform,
        digest: img.digest,
        cveId: f.cveId,
        package: f.type,
        version: f.version ?? '',
        fixedBy: f.fixedBy ?? '',
        level: f.level,
        link: f.link ?? '',
        description: f.description ?? '',
        firstSeen: iso(f.created_at),
      };
    }
  }
}

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

export interface VulnerabilitiesService {
  /** Unique CVEs of open findings, from the `cves` summaries. Throws NotFoundError for an unknown registry. */
  listCves(body: ListCvesBody): Promise<{ docs: CveView[]; count: number }>;
  /** Present images a CVE affects, in digest order. Throws NotFoundError when no image has it. */
  listCveImages(cveId: string, q: CveImagesQuery): Promise<{ docs: CveImageView[]; count: number }>;
  /** History points of one tag (all platforms unless given). Throws NotFoundError for an unknown image. */
  history(q: HistoryQuery): Promise<{ docs: HistoryPoint[]; count: number }>;
  /** Open findings of one tag's platform images. Throws NotFoundError for an unknown registry or image. */
  exportImage(q: ImageExportQuery): Promise<Download>;
  /** Open findings of every present image of a registry. Throws NotFoundError for an unknown registry. */
  exportRegistry(q: RegistryExportQuery): Promise<Download>;
}

export function createVulnerabilitiesService(deps: { registries: RegistriesService }): VulnerabilitiesService {
  const keyOf = async (param: string) => (await deps.registries.resolve(param)).key;

  const download = (name: string, format: 'csv' | 'json', filter: Record<string, unknown>): Download => ({
    filename: `${safeName(name)}.${format}`,
    contentType: format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
    chunks: serialise(exportRows(filter), format),
  });

  async function imageFilter(q: { repository: string; image: string; tag: string; platform?: string }) {
    const key = await keyOf(q.repository);
    const filter = { repository: key, image: q.image, tag: q.tag, ...(q.platform ? { platform: q.platform } : {}) };
    if (!(await ImageModel.exists(filter))) {
      throw new NotFoundError(`image ${key}/${q.image}:${q.tag}${q.platform ? ` (${q.platform})` : ''} not found`);
    }
    return { key, filter };
  }

  return {
    async listCves(body) {
      const filter: Record<string, unknown> = {
        registry: body.repository ? await keyOf(body.repository) : ALL_REGISTRIES,
      };
      if (body.search.length) {
        filter.$and = body.search.map((t) => {
          const re = literal(t);
          return { $or: [{ cveId: re }, { description: re }, { packages: re }] };
        });
      }
      const dir = body.sort.order === 'asc' ? 1 : -1;
      const [docs, count] = await Promise.all([
        CveSummaryModel.find(filter)
          .sort({ registry: dir, [CVE_SORT_FIELDS[body.sort.field]]: dir, cveId: dir })
          .skip(body.pagination.from)
          .limit(body.pagination.size)
          .lean<CveSummaryDoc[]>(),
        CveSummaryModel.countDocuments(filter),
      ]);
      return { docs: docs.map(toCveView), count };
    },

    async listCveImages(cveId, q) {
      const registry = q.repository ? await keyOf(q.repository) : undefined;
      const summary = await CveSummaryModel.findOne({
        registry: registry ?? ALL_REGISTRIES,
        cveId,
      }).lean<CveSummaryDoc>();
      if (!summary && !(await FindingModel.exists({ cveId, fixedAt: null }))) {
        throw new NotFoundError(`no open finding of ${cveId}${registry ? ` in registry ${registry}` : ''}`);
      }
      const docs: CveImageView[] = [];
      const groupMax = Math.min(200, q.from + q.size);
      let skip = q.from;
      let group = new Map<string, FindingDoc[]>();
      // Findings come in digest order (index cveId, fixedAt, digest); a group of digests is joined to its images at once.
      const flush = async (): Promise<boolean> => {
        if (!group.size) return false;
        const imgs = await presentImagesOf([...group.keys()], registry ? { repository: registry } : {});
        imgs.sort(
          (a, b) =>
            a.digest!.localeCompare(b.digest!) ||
            a.repository.localeCompare(b.repository) ||
            a.image.localeCompare(b.image) ||
            a.tag.localeCompare(b.tag) ||
            a.platform.localeCompare(b.platform),
        );
        for (const img of imgs) {
          if (skip > 0) {
            skip--;
            continue;
          }
          const fs = group.get(img.digest!)!;
          const worst = fs.reduce((w, f) => (f.levelRank > w.levelRank ? f : w), fs[0]!);
          docs.push({
            repository: img.repository,
            image: img.image,
            tag: img.tag,
            platform: img.platform,
            digest: img.digest!,
            level: worst.level as CveImageView['level'],
            packages: fs.map((f) => ({
              package: f.type,
              version: f.version ?? '',
              fixedBy: f.fixedBy ?? '',
              level: f.level as CveImageView['level'],
            })),
          });
          if (docs.length >= q.size) return true;
        }
        group = new Map();
        return false;
      };
      const cursor = FindingModel.find(
        { cveId, fixedAt: null },
        { digest: 1, type: 1, version: 1, fixedBy: 1, level: 1, levelRank: 1 },
      )
        .sort({ cveId: 1, fixedAt: 1, digest: 1 })
        .lean<FindingDoc>()
        .batchSize(Math.min(1000, (q.from + q.size) * 2))
        .cursor();
      try {
        for await (const f of cursor) {
          // A digest gives at least one row when it has a present image: a group of from + size digests often fills the page.
          if (!group.has(f.digest) && group.size >= groupMax && (await flush())) break;
          const g = group.get(f.digest);
          if (g) g.push(f);
          else group.set(f.digest, [f]);
        }
        if (docs.length < q.size) await flush();
      } finally {
        await cursor.close();
      }
      return { docs, count: summary?.tags ?? docs.length };
    },

    async history(q) {
      const { filter } = await imageFilter(q);
      const dir = q.order === 'asc' ? 1 : -1;
      const [docs, count] = await Promise.all([
        ImageHistoryModel.find(filter)
          .sort({ at: dir, _id: dir })
          .skip(q.from)
          .limit(q.limit)
          .lean<ImageHistoryDoc[]>(),
        ImageHistoryModel.countDocuments(filter),
      ]);
      return { docs: docs.map(toHistoryPoint), count };
    },

    async exportImage(q) {
      const { key, filter } = await imageFilter(q);
      return download(`vulnscan-${key}-${q.image}-${q.tag}`, q.format, filter);
    },

    async exportRegistry(q) {
      const key = await keyOf(q.repository);
      return download(`vulnscan-${key}`, q.format, { repository: key, present: true });
    },
  };
}

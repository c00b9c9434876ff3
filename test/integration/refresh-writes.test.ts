import type { ClairClient, ScanReport } from '../../src/clients/clair';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { ImageModel } from '../../src/modules/images';
import { FindingModel, ScanJobModel, applySummary, createRefresher, storeReport } from '../../src/modules/scanner';
import { buildImage, insertImages } from '../factories/image.factory';
import { WEIGHTS, buildFinding, buildScanReport, digestOf, testCtx } from '../factories/scan-report.factory';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/** Issue 16 item 3 (first half) and 5: a refresh writes only what changed in the report. */
const D = digestOf(0xabc);
const findings = Array.from({ length: 40 }, (_, i) =>
  buildFinding({ cveId: `CVE-2025-${1000 + i}`, type: `pkg-${i}`, level: i % 2 ? 'High' : 'Low' }),
);
const FIRST = new Date('2026-01-01T00:00:00Z');

async function seedScanned(report: ScanReport) {
  await insertImages([buildImage({ digest: D, image: 'web', scanStatus: 'pending', score: null })]);
  const stored = await storeReport(D, report, { batchSize: 25, now: FIRST }, testCtx);
  await ScanJobModel.create({
    digest: D,
    repository: '127.0.0.1:5000',
    image: 'web',
    state: 'done',
    queuedAt: FIRST,
    notBefore: FIRST,
    finishedAt: FIRST,
    result: stored.summary,
  });
  await applySummary(D, stored.summary, WEIGHTS, FIRST);
}

function refresherWith(report: ScanReport) {
  const clair = { report: async () => report } as unknown as ClairClient;
  return createRefresher({ clair, scan: loadConfig({}).scan, logger: createLogger('silent'), instance: 'test' });
}

const findingStamps = async () =>
  (await FindingModel.find({ digest: D }, { cveId: 1, updated_at: 1, fixedAt: 1 }).sort({ cveId: 1 }).lean()).map(
    (f) => [f.cveId, f.updated_at?.toISOString(), f.fixedAt?.toISOString() ?? null],
  );
const imageState = async () => ImageModel.findOne({ digest: D }).lean();
const jobState = async () => ScanJobModel.findOne({ digest: D }).lean();

describe('Refresh writes what changed', () => {
  it('When Clair reports the same findings again, then no finding, job or image is written', async () => {
    const report = buildScanReport(D, findings);
    await seedScanned(report);
    const [f0, i0, j0] = [await findingStamps(), await imageState(), await jobState()];

    const result = await refresherWith(buildScanReport(D, [...findings].reverse())).tick(true);

    expect(result).toMatchObject({ refreshed: 1, requeued: 0 });
    expect(await findingStamps()).toEqual(f0);
    expect(await imageState()).toEqual(i0);
    expect(await jobState()).toEqual(j0);
  });

  it('When one finding changed level, one is new and one is gone, then only those three are written', async () => {
    await seedScanned(buildScanReport(D, findings));
    const before = new Map((await findingStamps()).map((f) => [f[0], f]));
    const changed = [
      { ...findings[0]!, level: 'Critical' as const },
      ...findings.slice(2),
      buildFinding({ cveId: 'CVE-2026-0001', type: 'new-pkg' }),
    ];

    await refresherWith(buildScanReport(D, changed)).tick(true);

    const after = await findingStamps();
    const written = after
      .filter((f) => JSON.stringify(before.get(f[0] as string)) !== JSON.stringify(f))
      .map((f) => f[0]);
    expect(written.sort()).toEqual(['CVE-2025-1000', 'CVE-2025-1001', 'CVE-2026-0001']);
    expect(after.find((f) => f[0] === 'CVE-2025-1001')?.[2]).not.toBeNull();
    expect(await imageState()).toMatchObject({ critical: 1 });
  });
});

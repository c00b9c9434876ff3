import type { ScanReport } from '../src/clients/clair';
import { insertManyCapped, serverInfo } from '../src/db/batch';
import { DEFAULT_WEIGHTS } from '../src/domain/scoring';
import { LEVELS, LEVEL_NAMES } from '../src/domain/severity';
import { ImageModel, rescoreAll } from '../src/modules/images';
import { FindingModel, storeReport } from '../src/modules/scanner';
import { log, report } from './lib';

/**
 * Issue 16 item 5: what the embedded server (FerretDB 1.x) must take in seconds. Re-scores
 * BENCH_RESCORE_IMAGES images (default 5,000) after a weight change, and stores a report of 5,000
 * findings for a new digest, again with 10 changes, and again unchanged, counting the writes.
 */
export async function embeddedBench(): Promise<void> {
  const n = Number(process.env.BENCH_RESCORE_IMAGES || 5000);
  const info = await serverInfo();
  report(
    'server',
    `${info.ferretdb ? 'FerretDB' : 'MongoDB'} ${info.version}, ${info.maxStatements} statements/command`,
  );
  await Promise.all([ImageModel.init(), FindingModel.init()]);
  await ImageModel.deleteMany({});
  let s = Date.now();
  const docs = Array.from({ length: n }, (_, i) => ({
    repository: '10.0.0.1:5000',
    image: `bulk-${i}`,
    tag: 'latest',
    platform: 'linux/amd64',
    digest: `sha256:${i.toString(16).padStart(64, '0')}`,
    namespace: 'debian:12',
    critical: i % 3,
    high: i % 5,
    medium: i % 7,
    low: 0,
    negligible: 0,
    unknown: 0,
    packages: 100,
    score: 0,
    scanStatus: 'done',
    present: true,
    created_at: new Date(),
    updated_at: new Date(),
  }));
  await insertManyCapped(ImageModel.collection, docs, { batchSize: 1000 });
  report(`seed ${n} images`, `${Date.now() - s} ms`);
  const ctx = { log };
  s = Date.now();
  const changed = await rescoreAll({ ...DEFAULT_WEIGHTS, high: 8 }, 1000, ctx, 1);
  report(`re-score ${n} images (weight change)`, `${Date.now() - s} ms (${changed} changed)`);
  s = Date.now();
  const same = await rescoreAll({ ...DEFAULT_WEIGHTS, high: 8 }, 1000, ctx, 1);
  report(`re-score ${n} images (same weights)`, `${Date.now() - s} ms (${same} changed)`);

  const digest = `sha256:${'e'.repeat(64)}`;
  await FindingModel.deleteMany({ digest });
  const mk = (i: number, level: string) => ({
    cveId: `CVE-2024-${10000 + i}`,
    description: `flaw ${i}`,
    link: `https://security-tracker.debian.org/tracker/CVE-2024-${10000 + i}`,
    level: level as ScanReport['findings'][number]['level'],
    type: `lib-${i % 900}`,
    version: `2.${i % 40}`,
    versionFormat: 'dpkg',
    fixedBy: '',
  });
  const first: ScanReport = {
    manifestDigest: digest,
    namespace: 'debian:12',
    packages: 900,
    findings: Array.from({ length: 5000 }, (_, i) => mk(i, LEVEL_NAMES[LEVELS[i % 6]!])),
  };
  s = Date.now();
  const r1 = await storeReport(digest, first, { batchSize: 1000 }, ctx);
  report('storeReport 5000 findings, new digest', `${Date.now() - s} ms (inserted ${r1.inserted})`);
  const second: ScanReport = {
    ...first,
    findings: [
      ...first.findings.slice(4).map((f, i) => (i < 3 ? { ...f, level: 'Critical' as const } : f)),
      ...Array.from({ length: 3 }, (_, i) => mk(6000 + i, 'High')),
    ],
  };
  s = Date.now();
  const r2 = await storeReport(digest, second, { batchSize: 1000 }, ctx);
  report(
    'storeReport 5000 findings, 10 changes',
    `${Date.now() - s} ms (inserted ${r2.inserted}, updated ${r2.updated}, fixed ${r2.fixed})`,
  );
  s = Date.now();
  const r3 = await storeReport(digest, second, { batchSize: 1000 }, ctx);
  report(
    'storeReport 5000 findings, unchanged',
    `${Date.now() - s} ms (inserted ${r3.inserted}, updated ${r3.updated}, fixed ${r3.fixed})`,
  );
}

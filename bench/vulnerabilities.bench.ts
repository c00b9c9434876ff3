import request from 'supertest';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { LEVELS, LEVEL_NAMES, LEVEL_RANK } from '../src/domain/severity';
import { ImageModel } from '../src/modules/images';
import { RegistryModel } from '../src/modules/registries';
import { FindingModel } from '../src/modules/scanner';
import { CveSummaryModel, drainDirty, markCvesDirty } from '../src/modules/vulnerabilities';
import { log, report, timeIt } from './lib';

const PACKAGES = ['openssl', 'zlib', 'glibc', 'bash', 'curl', 'tar', 'systemd', 'perl', 'python3', 'sqlite3'];
const REGISTRIES = 10;

/** A deterministic pseudo-random stream (same data for every run with the same counts). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const cveOf = (n: number) => `CVE-${2000 + (n % 25)}-${String(10000 + n)}`;

/**
 * Seeds `images` image documents (two tags per digest, 10 registries) and about `findings` open
 * findings over a pool of `cves` CVE ids with skewed popularity (a few CVEs are in most digests, as
 * glibc's are), through bulk inserts: storeReport per digest would take hours at this size.
 */
async function seed(images: number, findings: number, cves: number): Promise<void> {
  await RegistryModel.collection.insertMany(
    Array.from({ length: REGISTRIES }, (_, r) => ({
      repository: `10.0.0.${r}`,
      port: 5000,
      key: `10.0.0.${r}:5000`,
      name: '',
      aliasKey: `10.0.0.${r}:5000`,
      kind: 'registry',
    })),
  );
  const digests = Math.max(1, Math.floor(images / 2));
  const perDigest = Math.max(1, Math.round(findings / digests));
  const random = rng(42);
  let docs: Array<Record<string, unknown>> = [];
  const flushImages = async (force = false) => {
    if (docs.length >= 5000 || (force && docs.length)) {
      await ImageModel.collection.insertMany(docs, { ordered: false });
      docs = [];
    }
  };
  for (let i = 0; i < images; i++) {
    const d = Math.floor(i / 2);
    const doc: Record<string, unknown> = {
      repository: `10.0.0.${d % REGISTRIES}:5000`,
      image: `team-${d % 97}/app-${d}`,
      tag: `v${i % 2}`,
      platform: 'linux/amd64',
      digest: digestOf(d),
      present: true,
      scanStatus: 'done',
      packages: 200,
      score: 0,
    };
    for (const l of LEVELS) doc[l] = 0;
    docs.push(doc);
    await flushImages();
  }
  await flushImages(true);

  const now = new Date();
  let batch: Array<Record<string, unknown>> = [];
  let inserted = 0;
  const t0 = Date.now();
  for (let d = 0; d < digests; d++) {
    const seen = new Set<number>();
    for (let k = 0; k < perDigest; k++) {
      // Skewed: the square pushes most picks to low CVE numbers (popular CVEs).
      const c = Math.floor(random() ** 3 * cves);
      if (seen.has(c)) continue;
      seen.add(c);
      const level = LEVELS[c % LEVELS.length]!;
      batch.push({
        digest: digestOf(d),
        cveId: cveOf(c),
        type: PACKAGES[c % PACKAGES.length],
        version: `1.${c % 7}`,
        versionFormat: 'dpkg',
        description: `Vulnerability ${c} in ${PACKAGES[c % PACKAGES.length]}: buffer overflow in parser ${c % 13}`,
        link: `https://security-tracker.debian.org/tracker/${cveOf(c)}`,
        level: LEVEL_NAMES[level],
        levelRank: LEVEL_RANK[level],
        fixedBy: c % 3 ? '' : `1.${(c % 7) + 1}`,
        created_at: now,
        updated_at: now,
        fixedAt: null,
      });
      if (batch.length >= 10_000) {
        await FindingModel.collection.insertMany(batch, { ordered: false });
        inserted += batch.length;
        batch = [];
        if (inserted % 500_000 === 0) report(`  … ${inserted} findings`, `${Math.round((Date.now() - t0) / 1000)} s`);
      }
    }
  }
  if (batch.length) await FindingModel.collection.insertMany(batch, { ordered: false });
}

/** Issue 6 item 1: POST /api/vulnerabilities and GET /api/vulnerabilities/:cveId/images at scale. */
export async function vulnerabilitiesBench(): Promise<void> {
  const images = Number(process.env.BENCH_CVE_IMAGES || 100_000);
  const findings = Number(process.env.BENCH_FINDINGS || 1_000_000);
  const cves = Number(process.env.BENCH_CVES || 20_000);
  const runs = Number(process.env.BENCH_RUNS || 200);
  const config = loadConfig({ LOG_LEVEL: 'silent', CVE_SUMMARY_INTERVAL_MS: '0' });
  const app = createApp({ config, logger: log.child({}, { level: 'silent' }) });
  await Promise.all([ImageModel.init(), FindingModel.init(), CveSummaryModel.init(), RegistryModel.init()]);

  let t = Date.now();
  await seed(images, findings, cves);
  const stored = await FindingModel.estimatedDocumentCount();
  report(`seed ${images} images, ${stored} findings, ${cves} CVE ids`, `${Date.now() - t} ms`);

  t = Date.now();
  await markCvesDirty(Array.from({ length: cves }, (_, c) => cveOf(c)));
  const pass = await drainDirty(500, { log });
  const summaries = await CveSummaryModel.estimatedDocumentCount();
  report(`build summaries from scratch (${pass.cves} CVEs → ${summaries} docs)`, `${Date.now() - t} ms`);

  const agent = request(app);
  const post = (body: Record<string, unknown>) => async () => {
    const res = await agent.post('/api/vulnerabilities').send(body);
    if (res.body.code !== 0) throw new Error(`POST /api/vulnerabilities failed: ${JSON.stringify(res.body)}`);
  };
  const cases: Array<[string, (i: number) => Promise<unknown>]> = [
    ['POST /api/vulnerabilities sort level desc', post({ sort: { field: 'level', order: 'desc' } })],
    ['POST /api/vulnerabilities sort images desc', post({ sort: { field: 'images', order: 'desc' } })],
    [
      'POST /api/vulnerabilities sort tags, page 50',
      post({ sort: { field: 'tags', order: 'desc' }, pagination: { from: 500, size: 10 } }),
    ],
    ['POST /api/vulnerabilities search "zlib"', post({ search: ['zlib'] })],
    ['POST /api/vulnerabilities search "CVE-2003-1"', post({ search: ['CVE-2003-1'] })],
    [
      'POST /api/vulnerabilities repository filter, sort images',
      post({ repository: '10.0.0.3:5000', sort: { field: 'images', order: 'desc' } }),
    ],
    [
      'GET /api/vulnerabilities/:cveId/images (popular CVE)',
      async () => {
        const res = await agent.get(`/api/vulnerabilities/${cveOf(0)}/images?size=20`);
        if (res.body.code !== 0) throw new Error(JSON.stringify(res.body));
      },
    ],
    [
      'GET /api/vulnerabilities/:cveId/images (varied CVEs)',
      async (i) => {
        const res = await agent.get(`/api/vulnerabilities/${cveOf((i * 37) % Math.min(cves, 2000))}/images?size=20`);
        if (res.body.code !== 0 && res.body.code !== 5004) throw new Error(JSON.stringify(res.body));
      },
    ],
  ];
  for (const [name, fn] of cases) {
    await fn(0);
    const { p50, p99 } = await timeIt(runs, fn);
    report(`${name} x${runs}`, `p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
  }

  // Incremental upkeep: what one rescan that changes 50 CVEs costs the pass.
  t = Date.now();
  await markCvesDirty(Array.from({ length: 50 }, (_, c) => cveOf(c * 7)));
  await drainDirty(500, { log });
  report('recompute 50 dirty CVEs (popular ones included)', `${Date.now() - t} ms`);
}

import type { Server } from 'node:http';
import mongoose from 'mongoose';
import type { Finding, ScanReport } from '../src/clients/clair';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createSecretBox } from '../src/crypto/secret-box';
import { DEFAULT_WEIGHTS, computeScore } from '../src/domain/scoring';
import { LEVELS, LEVEL_NAMES, LEVEL_RANK, emptyCounts, type LevelName } from '../src/domain/severity';
import { ImageModel } from '../src/modules/images';
import { FindingModel, literal, storeReport } from '../src/modules/scanner';
import { log, report, timeIt } from './lib';

/**
 * Issue 4: the scanner's lists at scale. Seeds BENCH_IMAGES images (default 100,000) and
 * BENCH_FINDINGS findings (default 5,000,000) with bulk inserts, then times each API query next to
 * the bare driver running the same query (filter, sort, skip, limit and the count) in the same run,
 * and the storing of a 5,000-finding report.
 */

const HOT_FINDINGS = 5000;
const hex = (n: number, salt = 0) => `sha256:${salt.toString(16)}${n.toString(16).padStart(63, '0')}`;

function finding(digest: string, i: number, now: Date, salt = 0): Record<string, unknown> {
  const level = LEVELS[i % LEVELS.length]!;
  return {
    digest,
    cveId: `CVE-${2015 + (i % 10)}-${(10000 + ((i * 7919 + salt) % 90000)).toString()}`,
    type: `pkg-${i % 700}`,
    version: `1.${i % 50}.${salt}`,
    versionFormat: 'dpkg',
    description: `A flaw in pkg-${i % 700} allows something bad (${i}).`,
    link: `https://security-tracker.debian.org/tracker/CVE-${i}`,
    level: LEVEL_NAMES[level],
    levelRank: LEVEL_RANK[level],
    fixedBy: i % 3 ? '' : `1.${i % 50}.${salt + 1}`,
    created_at: now,
    updated_at: now,
    fixedAt: null,
  };
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const s = Date.now();
  const r = await fn();
  report(label, `${((Date.now() - s) / 1000).toFixed(1)} s`);
  return r;
}

/** Seeds images (registry `key` for image 0, the one whose findings are listed) and findings. */
async function seed(images: number, findings: number, key: string): Promise<void> {
  const now = new Date();
  await Promise.all([ImageModel.init(), FindingModel.init()]);
  // Bulk loads go faster without secondary indexes; they are built once afterwards (timed apart).
  await Promise.all([ImageModel.collection.dropIndexes(), FindingModel.collection.dropIndexes()]);
  await timed(`seed ${images} images (insertMany, 5000 per batch)`, async () => {
    for (let i = 0; i < images; i += 5000) {
      const docs = [];
      for (let j = i; j < Math.min(images, i + 5000); j++) {
        const counts = emptyCounts();
        for (const l of LEVELS) counts[l] = (j * 31 + l.length * 7) % 23;
        const packages = 50 + (j % 400);
        docs.push({
          repository: j === 0 ? key : `10.0.0.${j % 10}:5000`,
          image: `team-${j % 97}/app-${j}`,
          tag: `v${j % 13}`,
          platform: 'linux/amd64',
          digest: hex(j),
          tagDigest: hex(j),
          namespace: j % 3 ? 'debian:12' : 'ubuntu:22.04',
          ...counts,
          packages,
          score: computeScore(counts, packages, DEFAULT_WEIGHTS),
          scanStatus: 'done',
          scanError: null,
          present: true,
          seenAt: now,
          created_at: new Date(now.getTime() - j * 1000),
          updated_at: now,
        });
      }
      await ImageModel.collection.insertMany(docs, { ordered: false });
    }
  });
  const perImage = images > 1 ? Math.max(0, Math.floor((findings - HOT_FINDINGS) / (images - 1))) : 0;
  await timed(
    `seed ${findings} findings (${HOT_FINDINGS} on one image, ${perImage} on each other; 10000 per batch)`,
    async () => {
      let buf: Array<Record<string, unknown>> = [];
      const flush = async () => {
        if (buf.length) await FindingModel.collection.insertMany(buf, { ordered: false });
        buf = [];
      };
      let written = 0;
      for (let i = 0; i < Math.min(HOT_FINDINGS, findings); i++, written++) {
        buf.push(finding(hex(0), i, now));
        if (buf.length >= 10000) await flush();
      }
      for (let j = 1; j < images && written < findings; j++) {
        for (let i = 0; i < perImage && written < findings; i++, written++) {
          buf.push(finding(hex(j), i, now, j));
          if (buf.length >= 10000) await flush();
        }
        if (j % 20000 === 0) log.warn({ images: j, findings: written }, 'seeding findings');
      }
      await flush();
    },
  );
  await timed('build indexes (images + findings)', async () => {
    await ImageModel.createIndexes();
    await FindingModel.createIndexes();
  });
}

/** A short summary of how the server plans a query (the winning stage, or FerretDB's pushdown flags). */
async function plan(cursor: { explain(v?: string): Promise<unknown> }): Promise<string> {
  try {
    const e = (await cursor.explain()) as Record<string, unknown>;
    const qp = e.queryPlanner as Record<string, unknown> | undefined;
    const stages: string[] = [];
    const walk = (s: unknown) => {
      if (!s || typeof s !== 'object') return;
      const o = s as Record<string, unknown>;
      if (typeof o.stage === 'string') stages.push(o.indexName ? `${o.stage}(${String(o.indexName)})` : o.stage);
      walk(o.inputStage);
      if (Array.isArray(o.inputStages)) o.inputStages.forEach(walk);
    };
    walk(qp?.winningPlan);
    const ferret = ['filterPushdown', 'sortPushdown', 'limitPushdown']
      .filter((k) => k in e)
      .map((k) => `${k}=${String(e[k])}`);
    return [...stages, ...ferret].join(' > ') || JSON.stringify(e).slice(0, 200);
  } catch (err) {
    return `explain failed: ${(err as Error).message}`;
  }
}

export async function scannerBench(
  images: number,
  findings: number,
  runs: number,
  warmup = 10,
  queries = true,
): Promise<void> {
  const config = loadConfig({ LOG_LEVEL: 'silent', REGISTRY_TEST_TIMEOUT_MS: '500' });
  const app = createApp({
    config,
    logger: log.child({}, { level: 'silent' }),
    secretBox: createSecretBox(Buffer.alloc(32, 7)),
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { code: number; data: { count: number } };
    if (json.code !== 0) throw new Error(`${path}: ${JSON.stringify(json)}`);
    return json.data;
  };
  try {
    // The registry of image 0 (its findings list resolves the registry first); nothing listens there.
    const created = await post('/api/repository', { repository: '127.0.0.1', port: 1 });
    const key = (created as unknown as { key: string }).key;
    await seed(images, findings, key);

    const db = mongoose.connection.db!;
    const imagesColl = db.collection('images');
    const findingsColl = db.collection('findings');
    const page = (i: number) => (i % 10) * 10;

    const imageFilter = (terms: string[]) => {
      const f: Record<string, unknown> = { present: true };
      if (terms.length)
        f.$and = terms.map((t) => ({ $or: ['image', 'tag', 'namespace'].map((k) => ({ [k]: literal(t) })) }));
      return f;
    };
    const cases: Array<{
      name: string;
      api: (i: number) => Promise<unknown>;
      driver: (i: number) => Promise<unknown>;
      explain: () => Promise<string>;
    }> = [];
    for (const terms of [[], ['team-42/']]) {
      const filter = imageFilter(terms);
      const sort = { score: -1, _id: -1 } as const;
      cases.push({
        name: `POST /api/scanner sort score desc${terms.length ? ` search ${JSON.stringify(terms)}` : ''}`,
        api: (i) =>
          post('/api/scanner', {
            pagination: { from: page(i), size: 10 },
            sort: { field: 'score', order: 'desc' },
            search: terms,
          }),
        driver: (i) =>
          Promise.all([
            imagesColl.find(filter).sort(sort).skip(page(i)).limit(10).toArray(),
            imagesColl.countDocuments(filter),
          ]),
        explain: () => plan(imagesColl.find(filter).sort(sort).limit(10)),
      });
    }
    {
      const terms = ['CVE-2019'];
      const ff: Record<string, unknown> = {
        digest: hex(0),
        fixedAt: null,
        $and: terms.map((t) => ({
          $or: ['cveId', 'type', 'level', 'version', 'description'].map((k) => ({ [k]: literal(t) })),
        })),
      };
      const sort = { levelRank: -1, _id: -1 } as const;
      cases.push({
        name: `POST /api/scanner/image sort level desc search ${JSON.stringify(terms)}`,
        api: (i) =>
          post('/api/scanner/image', {
            repository: key,
            image: 'team-0/app-0',
            tag: 'v0',
            pagination: { from: page(i), size: 10 },
            sort: { field: 'level', order: 'desc' },
            search: terms,
          }),
        // The same work minus HTTP and validation: the image lookup, then the page and the count.
        driver: async (i) => {
          const img = await imagesColl.findOne({ repository: key, image: 'team-0/app-0', tag: 'v0' });
          return Promise.all([
            findingsColl
              .find({ ...ff, digest: img!.digest })
              .sort(sort)
              .skip(page(i))
              .limit(10)
              .toArray(),
            findingsColl.countDocuments({ ...ff, digest: img!.digest }),
          ]);
        },
        explain: () => plan(findingsColl.find(ff).sort(sort).limit(10)),
      });
    }

    for (const c of queries ? cases : []) {
      const count = ((await c.api(0)) as { count: number }).count;
      // Warm both paths, then interleave them so that neither gets a quieter machine.
      await timeIt(warmup, c.api);
      await timeIt(warmup, c.driver);
      const a: number[] = [];
      const d: number[] = [];
      for (let i = 0; i < runs; i++) {
        for (const [fn, out] of [
          [c.api, a],
          [c.driver, d],
        ] as const) {
          const s = process.hrtime.bigint();
          await fn(i);
          out.push(Number(process.hrtime.bigint() - s) / 1e6);
        }
      }
      const [api, drv] = [a, d].map((t) => {
        t.sort((x, y) => x - y);
        return { p50: t[Math.ceil(0.5 * t.length) - 1]!, p99: t[Math.ceil(0.99 * t.length) - 1]! };
      });
      report(`${c.name} (count ${count}, x${runs})`, '');
      report('  API', `p50 ${api!.p50.toFixed(2)} ms, p99 ${api!.p99.toFixed(2)} ms`);
      report('  driver', `p50 ${drv!.p50.toFixed(2)} ms, p99 ${drv!.p99.toFixed(2)} ms`);
      report(
        '  ratio API/driver',
        `p50 ${(api!.p50 / drv!.p50).toFixed(2)}x, p99 ${(api!.p99 / drv!.p99).toFixed(2)}x`,
      );
      report('  plan', await c.explain());
    }

    // Storing a 5,000-finding report: a new digest, then the same digest with a few changes.
    const digest = hex(images + 1, 15);
    const mk = (i: number, level: LevelName): Finding => ({
      cveId: `CVE-2024-${(20000 + i).toString()}`,
      description: `finding ${i}`,
      link: `https://security-tracker.debian.org/tracker/CVE-2024-${20000 + i}`,
      level,
      type: `lib-${i % 900}`,
      version: `2.${i % 40}`,
      versionFormat: 'dpkg',
      fixedBy: '',
    });
    const first: ScanReport = {
      manifestDigest: digest,
      namespace: 'debian:12',
      packages: 900,
      findings: Array.from({ length: HOT_FINDINGS }, (_, i) => mk(i, LEVEL_NAMES[LEVELS[i % 6]!])),
    };
    const ctx = { log };
    const batchSize = config.scan.findingsBatchSize;
    let s = Date.now();
    const r1 = await storeReport(digest, first, { batchSize }, ctx);
    report(`storeReport ${HOT_FINDINGS} findings, new digest`, `${Date.now() - s} ms (inserted ${r1.inserted})`);
    // 50 change level, 20 are gone, 20 are new.
    const second: ScanReport = {
      ...first,
      findings: [
        ...first.findings.slice(20).map((f, i) => (i < 50 ? { ...f, level: 'Critical' as const } : f)),
        ...Array.from({ length: 20 }, (_, i) => mk(HOT_FINDINGS + i, 'High')),
      ],
    };
    s = Date.now();
    const r2 = await storeReport(digest, second, { batchSize }, ctx);
    report(
      `storeReport ${second.findings.length} findings, same digest, a few changes`,
      `${Date.now() - s} ms (inserted ${r2.inserted}, updated ${r2.updated}, fixed ${r2.fixed})`,
    );
    s = Date.now();
    await storeReport(digest, second, { batchSize }, ctx);
    report(`storeReport ${second.findings.length} findings, same digest, unchanged`, `${Date.now() - s} ms`);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

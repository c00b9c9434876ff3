import request from 'supertest';
import { createClairClient, type ClairClient } from '../../src/clients/clair';
import { DEFAULT_WEIGHTS } from '../../src/domain/scoring';
import type { AppDeps } from '../../src/http/deps';
import { ScanJobModel, scannerFrom } from '../../src/modules/scanner';
import { buildTestApp } from '../helpers/app';
import { debianLayer, pushImage } from '../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';
import { DEBIAN_PACKAGES, DEBIAN_TRACKER } from '../fixtures/clair/debian-packages';

useTestDb();

/**
 * Issue 4's end-to-end proof: a real docker-registry, the real Clair v4 of the e2e global setup (with
 * test/fixtures/clair/debian-fixture.jsonl imported), the real database; images found by the
 * discovery that creating the registry starts, scanned by the worker, read back through the API.
 */

const PACKAGES = DEBIAN_PACKAGES;
const TRACKER = DEBIAN_TRACKER;

/** Sorted by level (severity rank, highest first): what POST /api/scanner/image must list. */
const EXPECTED = [
  {
    cveId: 'CVE-2023-45853',
    level: 'Critical',
    type: 'zlib1g',
    version: '1:1.2.13.dfsg-1',
    fixedBy: '',
    link: `${TRACKER}CVE-2023-45853`,
  },
  {
    cveId: 'CVE-2024-0727',
    level: 'High',
    type: 'libssl3',
    version: '3.0.11-1~deb12u2',
    fixedBy: '3.0.13-1~deb12u1',
    link: `${TRACKER}CVE-2024-0727`,
  },
  {
    cveId: 'CVE-2023-5678',
    level: 'Medium',
    type: 'libssl3',
    version: '3.0.11-1~deb12u2',
    fixedBy: '',
    link: `${TRACKER}CVE-2023-5678`,
  },
  {
    cveId: 'CVE-2010-4756',
    level: 'Low',
    type: 'libc6',
    version: '2.36-9+deb12u3',
    fixedBy: '',
    link: `${TRACKER}CVE-2010-4756`,
  },
  // Named DLA-3600-1 by the data: the CVE id comes from its links, the link stays the advisory's.
  {
    cveId: 'CVE-2023-4911',
    level: 'Negligible',
    type: 'libc6',
    version: '2.36-9+deb12u3',
    fixedBy: '',
    link: `${TRACKER}DLA-3600-1`,
  },
  {
    cveId: 'CVE-2016-2781',
    level: 'Unknown',
    type: 'coreutils',
    version: '8.32-4.1',
    fixedBy: '9.1-1',
    link: `${TRACKER}CVE-2016-2781`,
  },
].map((f) => ({ ...f, versionFormat: 'dpkg' }));

/** The real Clair v4 client, with every call counted (how many index runs and report reads per digest). */
function countingClair(): { clair: ClairClient; scans: Map<string, number>; reports: Map<string, number> } {
  const real = createClairClient({
    version: 'v4',
    baseUrl: process.env.CLAIR_TEST_URL!,
    timeoutMs: 10_000,
    indexTimeoutMs: 60_000,
    retry: { baseDelayMs: 200 },
  });
  const scans = new Map<string, number>();
  const reports = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const clair: ClairClient = {
    ...real,
    scan: (input, ctx) => {
      bump(scans, input.manifestDigest);
      return real.scan(input, ctx);
    },
    report: (digest, ctx) => {
      bump(reports, digest);
      return real.report!(digest, ctx);
    },
    ping: (ctx) => real.ping(ctx),
    indexState: (ctx) => real.indexState!(ctx),
  };
  return { clair, scans, reports };
}

/** An app wired like src/server.ts: creating a registry starts its first discovery. */
function app(instanceId: string, clair: ClairClient, env: Record<string, string> = {}) {
  // Filled once the app exists; the hook runs only after a request.
  const ref: { deps?: AppDeps } = {};
  const started: Array<Promise<unknown>> = [];
  const t = buildTestApp(
    { CLAIR_URL: process.env.CLAIR_TEST_URL!, SCAN_POLL_MS: '50', SCAN_RETRY_BASE_MS: '100', ...env },
    {
      clair,
      instanceId,
      onRegistryCreated: (key) => {
        started.push(scannerFrom(ref.deps!).service.requestScan({ repository: key, force: false }, { log: t.logger }));
      },
    },
  );
  ref.deps = t.deps;
  const scanner = scannerFrom(t.deps);
  /** Resolves when the discovery that creating the registry started has ended. */
  const discovered = async () => {
    await Promise.all(started);
    await scanner.service.idle();
  };
  return { ...t, scanner, discovered };
}

let registry: RegistryProcess;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
});

describe('scan pipeline end to end (registry → discovery → jobs → worker → Clair → store → API)', () => {
  it('When a registry with a two-tag image and a second image is created and scanned, then the API shows the exact findings, counts, packages and score', async () => {
    const debian = await pushImage(registry.url, 'demo/debian', ['12', 'stable'], [debianLayer(PACKAGES)]);
    const small = await pushImage(
      registry.url,
      'demo/small',
      ['1'],
      [
        debianLayer([
          { name: 'zlib1g', version: '1:1.2.13.dfsg-1' },
          { name: 'bash', version: '5.2.15-2+b2' },
        ]),
      ],
    );
    const { clair, scans, reports } = countingClair();
    const t = app('e2e-a', clair);

    const created = await request(t.app).post('/api/repository').send({ repository: '127.0.0.1', port: registry.port });
    expect(created.body.data.isConnect).toBe(true);
    const key: string = created.body.data.key;
    // The first discovery runs in the background; once it ended, every digest has a job.
    await t.discovered();
    const queued = await request(t.app).get('/api/scanner/jobs').query({ repository: key });
    expect(queued.body.data).toMatchObject({
      total: 3,
      byState: { pending: 3, scanning: 0, done: 0, failed: 0 },
      jobs: { queued: 2, running: 0, done: 0, failed: 0 },
      percentDone: 0,
    });

    await t.scanner.worker.drain(120_000);

    // One Clair index per digest, though three tags were scanned.
    expect(Object.fromEntries(scans)).toEqual({ [debian.digest]: 1, [small.digest]: 1 });
    const progress = await request(t.app).get('/api/scanner/jobs').query({ repository: key });
    expect(progress.body.data).toMatchObject({
      total: 3,
      byState: { pending: 0, scanning: 0, done: 3, failed: 0 },
      jobs: { queued: 0, running: 0, done: 2, failed: 0 },
      percentDone: 100,
      etaSeconds: 0,
    });

    // Score by hand with the default weights: Σ weight × count / (max weight × packages).
    const w = DEFAULT_WEIGHTS;
    const debianScore = (w.critical + w.high + w.medium + w.low + w.negligible + w.unknown) / (10 * PACKAGES.length);
    expect(debianScore).toBe(30 / 70);
    for (const tag of ['12', 'stable']) {
      const img = await request(t.app).get('/api/scanner').query({ repository: key, image: 'demo/debian', tag });
      expect(img.body.data).toMatchObject({
        name: `${key}/demo/debian:${tag}`,
        digest: debian.digest,
        namespace: 'debian:12',
        critical: 1,
        high: 1,
        medium: 1,
        low: 1,
        negligible: 1,
        unknown: 1,
        packages: 7,
        score: debianScore,
        scanStatus: 'done',
      });
      const list = await request(t.app)
        .post('/api/scanner/image')
        .send({
          repository: key,
          image: 'demo/debian',
          tag,
          sort: { field: 'level', order: 'desc' },
          pagination: { size: 50 },
        });
      expect(list.body.data.count).toBe(6);
      expect(list.headers['x-total-count']).toBe('6');
      expect(
        list.body.data.docs.map(
          ({ cveId, level, type, version, versionFormat, fixedBy, link }: Record<string, string>) => ({
            cveId,
            level,
            type,
            version,
            fixedBy,
            link,
            versionFormat,
          }),
        ),
      ).toEqual(EXPECTED);
      expect(list.body.data.docs.every((d: { tag: string }) => d.tag === tag)).toBe(true);
      expect(list.body.data.docs[0].description).toMatch(/MiniZip/);
    }
    const smallImg = await request(t.app).get('/api/scanner').query({ repository: key, image: 'demo/small', tag: '1' });
    expect(smallImg.body.data).toMatchObject({
      digest: small.digest,
      namespace: 'debian:12',
      critical: 1,
      high: 0,
      medium: 0,
      low: 0,
      negligible: 0,
      unknown: 0,
      packages: 2,
      score: w.critical / (10 * 2),
    });
    const ranked = await request(t.app)
      .post('/api/scanner')
      .send({ repository: key, sort: { field: 'score', order: 'desc' } });
    // Worst first; the two debian tags tie (same digest, same score).
    const names = ranked.body.data.docs.map((d: { name: string }) => d.name);
    expect(names[0]).toBe(`${key}/demo/small:1`);
    expect(names.slice(1).sort()).toEqual([`${key}/demo/debian:12`, `${key}/demo/debian:stable`]);

    // The refresh re-reads each digest's vulnerability report without indexing again.
    const before = await request(t.app).get('/api/scanner').query({ repository: key, image: 'demo/debian', tag: '12' });
    const refreshed = await t.scanner.refresher.tick(true);
    expect(refreshed).toEqual({ refreshed: 2, requeued: 0, indexStateChanged: false });
    expect(Object.fromEntries(scans)).toEqual({ [debian.digest]: 1, [small.digest]: 1 });
    expect(Object.fromEntries(reports)).toEqual({ [debian.digest]: 1, [small.digest]: 1 });
    const after = await request(t.app).get('/api/scanner').query({ repository: key, image: 'demo/debian', tag: '12' });
    // The same report again: a refresh writes only what changed, so the image is untouched (issue 16).
    expect(after.body.data).toEqual(before.body.data);
  });

  it('When an instance died with a scan in flight, then a restarted worker resumes it and the scan completes', async () => {
    const pushed = await pushImage(
      registry.url,
      'demo/resume',
      ['1'],
      [debianLayer([{ name: 'zlib1g', version: '1:1.2.13.dfsg-1' }])],
    );
    const { clair, scans } = countingClair();
    const first = app('e2e-before-restart', clair);
    const created = await request(first.app)
      .post('/api/repository')
      .send({ repository: '127.0.0.1', port: registry.port });
    const key: string = created.body.data.key;
    await first.discovered();
    // What the dead instance left: its claim running under a lease nobody renews any more.
    await ScanJobModel.updateOne(
      { digest: pushed.digest },
      {
        $set: { state: 'running', leaseOwner: 'e2e-before-restart', leaseUntil: new Date(Date.now() - 1), attempts: 1 },
      },
    );

    const restarted = app('e2e-after-restart', clair);
    restarted.scanner.start();
    try {
      await restarted.scanner.worker.drain(120_000);
    } finally {
      await restarted.scanner.stop(1000);
    }

    expect(await ScanJobModel.findOne({ digest: pushed.digest }).lean()).toMatchObject({
      state: 'done',
      attempts: 2,
      leaseOwner: null,
      lastError: null,
    });
    expect(scans.get(pushed.digest)).toBe(1);
    const img = await request(restarted.app)
      .get('/api/scanner')
      .query({ repository: key, image: 'demo/resume', tag: '1' });
    expect(img.body.data).toMatchObject({ scanStatus: 'done', critical: 1, packages: 1, score: 1 });
  });

  it('When a layer blob is missing from the registry, then the scan fails for good and the image shows Clair’s reason', async () => {
    const pushed = await pushImage(
      registry.url,
      'demo/broken',
      ['1'],
      [debianLayer([{ name: 'tar', version: '1.34+dfsg-1.2' }])],
    );
    const del = await fetch(`${registry.url}/v2/demo/broken/blobs/${pushed.layers[0]!.digest}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    const { clair } = countingClair();
    const t = app('e2e-broken', clair, { SCAN_MAX_ATTEMPTS: '1' });
    const created = await request(t.app).post('/api/repository').send({ repository: '127.0.0.1', port: registry.port });
    const key: string = created.body.data.key;
    await t.discovered();

    await t.scanner.worker.drain(120_000);

    const img = await request(t.app).get('/api/scanner').query({ repository: key, image: 'demo/broken', tag: '1' });
    expect(img.body.data).toMatchObject({ scanStatus: 'failed', score: null });
    expect(img.body.data.scanError).toMatch(
      new RegExp(`Clair could not index image ${pushed.digest}: .*(404|not found|fetch)`, 'i'),
    );
    expect(await ScanJobModel.findOne({ digest: pushed.digest }).lean()).toMatchObject({
      state: 'failed',
      attempts: 1,
    });
  });
});

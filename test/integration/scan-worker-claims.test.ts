import type { ClairClient, ScanReport } from '../../src/clients/clair';
import { loadConfig } from '../../src/config';
import { NotFoundError, ScannerError } from '../../src/errors/app-error';
import { createLogger } from '../../src/logger';
import { ImageModel, recomputeImages } from '../../src/modules/images';
import type { RegistriesService } from '../../src/modules/registries';
import { FindingModel, ScanJobModel, createScanWorker, type ScanJobDoc } from '../../src/modules/scanner';
import { buildFinding, buildScanReport, digestOf, discoverTags } from '../factories/scan-report.factory';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/**
 * Issue 12, the scan worker: every write of a job's results and state is guarded by the claim
 * (owner and generation), a lost heartbeat aborts the scan before anything is stored, and a
 * failure never hides the results of an earlier successful scan.
 */
const KEY = '10.0.0.9:5000';
const D = digestOf(0xd1);
const T1 = new Date('2026-01-01T00:00:00Z');

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A registry whose manifests are single images with no layers (what Clair gets does not matter here). */
const registries = {
  clientFor: async () => ({
    client: {
      getManifest: async () => ({ digest: D, manifest: { kind: 'image', layers: [] } }),
      pullHeaders: async () => ({}),
      blobUrl: () => 'http://127.0.0.1:1/blob',
    },
  }),
} as unknown as RegistriesService;

function worker(
  instance: string,
  scan: (input: unknown) => Promise<ScanReport>,
  env: Record<string, string> = {},
  alerts?: { newFindings(): Promise<number> },
) {
  const config = loadConfig({ SCAN_MAX_ATTEMPTS: '3', ...env });
  const clair = { version: 'v4', scan } as unknown as ClairClient;
  return createScanWorker({
    registries,
    clair,
    scan: config.scan,
    clairIndexTimeoutMs: 5000,
    logger: createLogger('silent'),
    instance,
    alerts,
  });
}

const job = () => ScanJobModel.findOne({ digest: D }).lean<ScanJobDoc>();
const report = () => buildScanReport(D, [buildFinding({ cveId: 'CVE-2024-1111', level: 'Critical' })]);

async function queued(fields: Record<string, unknown> = {}) {
  await discoverTags(KEY, [{ image: 'app', tag: '1', digest: D }]);
  await ScanJobModel.create({
    digest: D,
    repository: KEY,
    image: 'app',
    state: 'queued',
    queuedAt: T1,
    notBefore: new Date(Date.now() - 1000),
    ...fields,
  });
  await recomputeImages([D]);
}

async function until(check: () => Promise<boolean>, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('scan worker claims', () => {
  it.each([
    ['another instance', 'b'],
    ['another loop of the same instance', 'a'],
  ])(
    'When the job is taken over by %s while Clair works, then the old owner writes no finding, result or state',
    async (_name, newOwner) => {
      await queued();
      const clair = deferred<ScanReport>();
      const a = worker('a', () => clair.promise, { SCAN_LEASE_MS: '60000' });
      const run = a.runOnce();
      // Claimed: the job runs and its images show it.
      await until(async () => (await ImageModel.findOne({ digest: D }).lean())?.scanStatus === 'scanning');
      expect(await job()).toMatchObject({ state: 'running', leaseOwner: 'a' });

      // The takeover: a new claim (new generation) by the new owner; a's heartbeat has not run yet.
      await ScanJobModel.updateOne(
        { digest: D },
        { $set: { leaseOwner: newOwner, leaseUntil: new Date(Date.now() + 60_000) }, $inc: { claimSeq: 1 } },
      );
      clair.resolve(report());
      expect(await run).toBe(true);

      expect(await FindingModel.countDocuments({ digest: D })).toBe(0);
      expect(await job()).toMatchObject({ state: 'running', leaseOwner: newOwner, result: null, scannedAt: null });
      expect(await ImageModel.findOne({ digest: D }).lean()).toMatchObject({ scanStatus: 'scanning', critical: 0 });
    },
  );

  it('When a heartbeat finds the job taken over, then the scan is aborted at once, before anything is stored', async () => {
    await queued();
    const clair = deferred<ScanReport>();
    // Lease 1 s: a heartbeat every 333 ms.
    const a = worker('a', () => clair.promise, { SCAN_LEASE_MS: '1000' });
    const run = a.runOnce();
    await until(async () => (await ImageModel.findOne({ digest: D }).lean())?.scanStatus === 'scanning');
    await ScanJobModel.updateOne(
      { digest: D },
      { $set: { leaseOwner: 'b', leaseUntil: new Date(Date.now() + 60_000) }, $inc: { claimSeq: 1 } },
    );
    const late = setTimeout(() => clair.resolve(report()), 8000);
    try {
      const started = Date.now();
      await run;
      // Ended by the heartbeat, not by Clair answering (8 s).
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      clearTimeout(late);
      clair.resolve(report());
    }
    expect(await FindingModel.countDocuments({ digest: D })).toBe(0);
    expect(await job()).toMatchObject({ leaseOwner: 'b', result: null });
  });

  it('When a scan succeeds, then the job records its first and last scan and is done only with its images derived', async () => {
    await queued();
    const a = worker('a', async () => report());
    expect(await a.runOnce()).toBe(true);

    const j = (await job())!;
    expect(j).toMatchObject({ state: 'done', leaseOwner: null, lastError: null });
    expect(j.firstScannedAt).toBeInstanceOf(Date);
    expect(j.scannedAt).toEqual(j.firstScannedAt);
    expect(await ImageModel.findOne({ digest: D }).lean()).toMatchObject({
      scanStatus: 'done',
      critical: 1,
      created_at: j.firstScannedAt,
      updated_at: j.scannedAt,
    });

    // A rescan keeps the first scan's time and moves the last one.
    await ScanJobModel.updateOne({ digest: D }, { $set: { state: 'queued', notBefore: new Date(Date.now() - 1) } });
    expect(await a.runOnce()).toBe(true);
    const again = (await job())!;
    expect(again.firstScannedAt).toEqual(j.firstScannedAt);
    expect(again.scannedAt!.getTime()).toBeGreaterThan(j.scannedAt!.getTime());
  });

  it('When a rescan of a scanned digest fails for good, then its images keep their results as done with the error set', async () => {
    await queued();
    const ok = worker('a', async () => report());
    expect(await ok.runOnce()).toBe(true);
    const before = await ImageModel.findOne({ digest: D }).lean();
    await ScanJobModel.updateOne({ digest: D }, { $set: { state: 'queued', notBefore: new Date(Date.now() - 1) } });

    const failing = worker('a', async () => {
      throw new NotFoundError('manifest unknown to the registry');
    });
    expect(await failing.runOnce()).toBe(true);

    expect(await job()).toMatchObject({ state: 'failed', lastError: 'manifest unknown to the registry' });
    expect(await ImageModel.findOne({ digest: D }).lean()).toMatchObject({
      scanStatus: 'done',
      scanError: 'manifest unknown to the registry',
      critical: 1,
      score: before!.score,
      created_at: before!.created_at,
      updated_at: before!.updated_at,
    });
  });

  it('When a first scan fails for good, then the images are failed with the reason, and a retryable failure leaves them pending', async () => {
    await queued();
    const retrying = worker('a', async () => {
      throw new ScannerError('clair unavailable');
    });
    expect(await retrying.runOnce()).toBe(true);
    expect(await job()).toMatchObject({ state: 'queued', lastError: 'clair unavailable' });
    expect(await ImageModel.findOne({ digest: D }).lean()).toMatchObject({ scanStatus: 'pending', scanError: null });

    await ScanJobModel.updateOne({ digest: D }, { $set: { notBefore: new Date(Date.now() - 1) } });
    const failing = worker('a', async () => {
      throw new NotFoundError('gone');
    });
    expect(await failing.runOnce()).toBe(true);
    expect(await ImageModel.findOne({ digest: D }).lean()).toMatchObject({ scanStatus: 'failed', scanError: 'gone' });
  });

  it('When the alert derivation is slow, then the scan is done without waiting for it, and drain() waits for it', async () => {
    await queued();
    const derivation = deferred<number>();
    let hinted = 0;
    const w = worker(
      'inst-a',
      async () => report(),
      {},
      {
        newFindings: () => {
          hinted++;
          return derivation.promise;
        },
      },
    );
    expect(await w.runOnce()).toBe(true);
    expect(hinted).toBe(1);
    expect((await job())!.state).toBe('done');
    let drained = false;
    const draining = w.drain(5000).then(() => (drained = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(drained).toBe(false);
    derivation.resolve(1);
    await draining;
    expect(drained).toBe(true);
  });
});

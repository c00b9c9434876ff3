import mongoose from 'mongoose';
import request from 'supertest';
import type { Ctx } from '../../src/http/context';
import { ImageModel } from '../../src/modules/images';
import { ScanJobModel, scannerFrom, type ScanJobDoc } from '../../src/modules/scanner';
import { buildTestApp } from '../helpers/app';
import { buildLayer, pushImage, sha256 } from '../helpers/oci-image';
import { freePort, startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';

useTestDb();

/**
 * Scan job mechanics that need no working Clair: claims, leases, retries and failures. Clair here is
 * a URL on a closed port, so every scan that gets as far as Clair fails with 5001 (retryable).
 * Scans that must succeed are in test/e2e/scan-pipeline.test.ts.
 */
let registry: RegistryProcess;
let clairUrl: string;
let key: string;
let digest: string;

beforeAll(async () => {
  registry = await startRegistry();
  clairUrl = `http://127.0.0.1:${await freePort()}`;
  digest = (await pushImage(registry.url, 'jobs/app', ['1', '2'], [buildLayer({ 'etc/': '', 'etc/a': 'a\n' })])).digest;
});
afterAll(async () => {
  await registry?.stop();
});

function instance(id: string, env: Record<string, string> = {}) {
  const t = buildTestApp(
    {
      CLAIR_URL: clairUrl,
      CLAIR_TIMEOUT_MS: '2000',
      CLAIR_INDEX_TIMEOUT_MS: '2000',
      SCAN_MAX_ATTEMPTS: '3',
      SCAN_RETRY_BASE_MS: '1000',
      SCAN_LEASE_MS: '5000',
      SCAN_POLL_MS: '50',
      ...env,
    },
    { instanceId: id },
  );
  const scanner = scannerFrom(t.deps);
  const ctx: Ctx = { log: t.logger };
  return { ...t, scanner, ctx };
}

/** Registers the registry and discovers it: two images (tags 1 and 2) sharing one digest, one queued job. */
async function discovered(a = instance('a')) {
  const res = await request(a.app).post('/api/repository').send({ repository: '127.0.0.1', port: registry.port });
  key = res.body.data.key;
  await a.scanner.service.discover({ repository: key }, a.ctx);
  return a;
}

const job = () => ScanJobModel.findOne({ digest }).lean<ScanJobDoc>();

describe('scan jobs', () => {
  it('When two instances race many times for one job, then exactly one claim wins each time', async () => {
    const a = await discovered(instance('a', { SCAN_MAX_ATTEMPTS: '10' }));
    const b = instance('b', { SCAN_MAX_ATTEMPTS: '10' });

    // A conditional findOneAndUpdate let 4 of 6 racers "win" on FerretDB 1.x; each round must have one winner.
    for (let round = 1; round <= 5; round++) {
      await ScanJobModel.updateOne({ digest }, { $set: { notBefore: new Date(Date.now() - 1) } });
      const wins = await Promise.all([a, b, a, b, a, b].map((i) => i.scanner.worker.runOnce()));

      expect(wins.filter(Boolean)).toHaveLength(1);
      // Run once (and failed once, Clair being down): one more attempt, back in the queue for later.
      expect(await job()).toMatchObject({ attempts: round, claimSeq: round, state: 'queued', leaseOwner: null });
    }
    const retries = (i: typeof a) => i.logs.text.split('scan failed; will retry').length - 1;
    expect(retries(a) + retries(b)).toBe(5);
    // Every claim ticket is dropped once its guarded update is written (src/db/claim.ts).
    expect(await mongoose.connection.db!.collection('claims').countDocuments()).toBe(0);
  });

  it('When an instance died between taking a claim ticket and marking the job running, then the job is claimed again after a lease', async () => {
    const a = await discovered();
    const j = (await job())!;
    const ticket = `scanjob:${String(j._id)}:1`;
    await mongoose.connection
      .db!.collection('claims')
      .insertOne({ _id: ticket as never, owner: 'dead', at: new Date(Date.now() - 10_000) });

    // The ticket is older than SCAN_LEASE_MS: the poll removes it and claims the job.
    expect(await a.scanner.worker.runOnce()).toBe(true);
    expect(await job()).toMatchObject({ attempts: 1, claimSeq: 1 });
  });

  it('When a scan fails, then it is retried with a doubling backoff and attempts counted, and after the last attempt the image is failed with the reason', async () => {
    const a = await discovered();
    for (let attempt = 1; attempt <= 3; attempt++) {
      const before = Date.now();
      expect(await a.scanner.worker.runOnce()).toBe(true);
      const after = Date.now();
      const j = (await job())!;
      expect(j.attempts).toBe(attempt);
      expect(j.lastError).toBe(
        `cannot reach Clair at ${clairUrl}: connection refused — is it running? check CLAIR_URL`,
      );
      if (attempt < 3) {
        expect(j.state).toBe('queued');
        const at = new Date(j.notBefore).getTime();
        // notBefore = failure time + base × 2^(attempt-1).
        expect(at).toBeGreaterThanOrEqual(before + 1000 * 2 ** (attempt - 1));
        expect(at).toBeLessThanOrEqual(after + 1000 * 2 ** (attempt - 1));
        // Not claimable before its time.
        expect(await a.scanner.worker.runOnce()).toBe(false);
        expect(await ImageModel.distinct('scanStatus', { digest })).toEqual(['pending']);
        await ScanJobModel.updateOne({ digest }, { $set: { notBefore: new Date(Date.now() - 1) } });
      } else {
        expect(j).toMatchObject({ state: 'failed', leaseOwner: null, leaseUntil: null });
      }
    }
    const images = await ImageModel.find({ digest }).sort({ tag: 1 }).lean();
    expect(images.map((i) => [i.tag, i.scanStatus, i.scanError])).toEqual([
      ['1', 'failed', expect.stringMatching(/^cannot reach Clair at .*check CLAIR_URL$/)],
      ['2', 'failed', expect.stringMatching(/^cannot reach Clair at .*check CLAIR_URL$/)],
    ]);
    const res = await request(a.app).get('/api/scanner').query({ repository: key, image: 'jobs/app', tag: '1' });
    expect(res.body.data).toMatchObject({
      scanStatus: 'failed',
      scanError: expect.stringMatching(/cannot reach Clair/),
    });
  });

  it('When the image manifest is gone from the registry, then the failure is permanent at the first attempt', async () => {
    const a = await discovered();
    const missing = sha256('a manifest the registry never had');
    await ImageModel.updateMany({ digest }, { $set: { digest: missing } });
    await ScanJobModel.updateOne({ digest }, { $set: { digest: missing } });

    expect(await a.scanner.worker.runOnce()).toBe(true);

    const j = await ScanJobModel.findOne({ digest: missing }).lean<ScanJobDoc>();
    expect(j).toMatchObject({ state: 'failed', attempts: 1 });
    expect(j!.lastError).toMatch(/not found|unknown/i);
    expect(await ImageModel.distinct('scanStatus', { digest: missing })).toEqual(['failed']);
  });

  it('When a running job’s lease expired (its instance died), then another instance takes it over; a live lease is left alone', async () => {
    await discovered();
    const b = instance('b');
    const live = new Date(Date.now() + 60_000);
    await ScanJobModel.updateOne(
      { digest },
      { $set: { state: 'running', leaseOwner: 'a', leaseUntil: live, attempts: 1 } },
    );

    expect(await b.scanner.worker.runOnce()).toBe(false);
    expect(await job()).toMatchObject({ state: 'running', leaseOwner: 'a' });

    await ScanJobModel.updateOne({ digest }, { $set: { leaseUntil: new Date(Date.now() - 1) } });
    expect(await b.scanner.worker.runOnce()).toBe(true);
    // b ran it (attempt 2; Clair down, so queued again), and wrote the outcome as the new owner.
    expect(await job()).toMatchObject({ state: 'queued', attempts: 2, leaseOwner: null });
    expect(b.logs.text).toContain('scan failed; will retry');
  });

  it('When an instance restarts, then the jobs it had in flight are resumed by the started worker', async () => {
    await discovered();
    // What a killed instance leaves: its job running under a lease nobody renews.
    await ScanJobModel.updateOne(
      { digest },
      { $set: { state: 'running', leaseOwner: 'a-before-restart', leaseUntil: new Date(Date.now() - 1), attempts: 1 } },
    );
    const restarted = instance('a-after-restart', { SCAN_MAX_ATTEMPTS: '2' });

    restarted.scanner.start();
    try {
      await restarted.scanner.worker.drain(20_000);
    } finally {
      await restarted.scanner.stop(1000);
    }

    expect(await job()).toMatchObject({ state: 'failed', attempts: 2, leaseOwner: null });
    expect(restarted.logs.text).toContain('scan failed');
  });

  it('When a failed digest is discovered again, then its job is queued afresh and the images go back to pending', async () => {
    const a = await discovered();
    await ScanJobModel.updateOne({ digest }, { $set: { state: 'failed', attempts: 3, lastError: 'x' } });
    await ImageModel.updateMany({ digest }, { $set: { scanStatus: 'failed', scanError: 'x' } });

    const result = await a.scanner.service.discover({ repository: key }, a.ctx);

    expect(result).toMatchObject({ queued: 1 });
    expect(await job()).toMatchObject({ state: 'queued', attempts: 0 });
    expect(await ImageModel.find({ digest }, { _id: 0, scanStatus: 1, scanError: 1 }).sort({ tag: 1 }).lean()).toEqual([
      { scanStatus: 'pending', scanError: null },
      { scanStatus: 'pending', scanError: null },
    ]);
  });

  it('When progress is asked for, then GET /api/scanner/jobs counts images and jobs by state', async () => {
    const a = await discovered();
    const res = await request(a.app).get('/api/scanner/jobs').query({ repository: key });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      repository: key,
      discovering: false,
      total: 2,
      byState: { pending: 2, scanning: 0, done: 0, failed: 0 },
      jobs: { queued: 1, running: 0, done: 0, failed: 0 },
      percentDone: 0,
    });
    expect(res.body.data.lastDiscovery).toMatchObject({ error: null, tags: 2 });
  });
});

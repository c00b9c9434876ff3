import request from 'supertest';
import type { ClairClient, ScanInput, ScanReport } from '../../../src/clients/clair';
import { registriesServiceFrom } from '../../../src/modules/registries';
import { createScanWorker, scannerFrom, ScanJobModel, type ScanWorker } from '../../../src/modules/scanner';
import { testCtx } from '../../helpers/fakes/ctx';
import { buildTestApp } from '../../helpers/app';
import { buildLayer, pushImage } from '../../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../../helpers/registry-process';
import { useTestDb } from '../../helpers/test-db';

useTestDb();

/**
 * A Clair stand-in that holds every scan until the test releases it, so the test sees which scans
 * run at the same time. The real Clair is exercised by the e2e tier; here only concurrency matters.
 */
function gatedClair() {
  const inFlight: Array<{ registry: string; digest: string; release: () => void }> = [];
  const clair: ClairClient = {
    version: 'v4',
    ping: async () => true,
    async scan(input: ScanInput): Promise<ScanReport> {
      const registry = new URL(input.layers[0]!.uri).host;
      await new Promise<void>((release) => inFlight.push({ registry, digest: input.manifestDigest, release }));
      return { manifestDigest: input.manifestDigest, namespace: 'debian:12', packages: 1, findings: [] };
    },
  };
  /** Distinct digests being scanned now, per registry. */
  const running = () => {
    const by: Record<string, Set<string>> = {};
    for (const f of inFlight) (by[f.registry] ??= new Set()).add(f.digest);
    return Object.fromEntries(Object.entries(by).map(([k, v]) => [k, v.size]));
  };
  const releaseAll = () => {
    for (const f of inFlight.splice(0)) f.release();
  };
  return { clair, inFlight, running, releaseAll };
}

async function until(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let a: RegistryProcess;
let b: RegistryProcess;
beforeAll(async () => {
  [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  for (const n of [1, 2, 3]) await pushImage(a.url, `team/a${n}`, ['v1'], [buildLayer({ [`a${n}.txt`]: `a${n}` })]);
  await pushImage(b.url, 'team/b1', ['v1'], [buildLayer({ 'b1.txt': 'b1' })]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

it('When two workers claim scans of a registry capped at 1, then at most one of its images is scanned at a time while other registries go on', async () => {
  const gate = gatedClair();
  const { app, deps, logger } = buildTestApp(
    { SCAN_REGISTRY_CONCURRENCY: '1', SCAN_CONCURRENCY: '2' },
    { clair: gate.clair },
  );
  for (const r of [a, b]) await request(app).post('/api/repository').send({ repository: '127.0.0.1', port: r.port });
  const keyA = `127.0.0.1:${a.port}`;
  const keyB = `127.0.0.1:${b.port}`;
  const { service } = scannerFrom(deps);
  await service.discover({ repository: keyA }, testCtx());
  await service.discover({ repository: keyB }, testCtx());
  expect(await ScanJobModel.countDocuments({ state: 'queued' })).toBe(4);
  const worker = (instance: string): ScanWorker =>
    createScanWorker({
      registries: registriesServiceFrom(deps),
      clair: gate.clair,
      scan: deps.config.scan,
      clairIndexTimeoutMs: 60_000,
      logger,
      instance,
    });
  const w1 = worker('instance-1');
  const w2 = worker('instance-2');

  // One at a time first: w1 takes an image of A, then w2 must skip A's other images and take B's.
  const first = w1.runOnce();
  await until('a scan of A', () => gate.inFlight.length === 1);
  const second = w2.runOnce();
  await until('a second scan', () => gate.inFlight.length === 2);
  expect(gate.running()).toEqual({ [keyA]: 1, [keyB]: 1 });
  expect(await w2.runOnce()).toBe(false);
  expect(await w1.runOnce()).toBe(false);
  expect(await ScanJobModel.countDocuments({ repository: keyA, state: 'running' })).toBe(1);
  gate.releaseAll();
  expect(await Promise.all([first, second])).toEqual([true, true]);

  // Then both workers claim at once, round after round, until A is done: never two of A's images together.
  for (let round = 0; round < 10; round++) {
    const settled: boolean[] = [];
    const both = [w1.runOnce(), w2.runOnce()].map((p) => p.then((r) => (settled.push(r), r)));
    await until('both claims to settle or scan', () => settled.length + gate.inFlight.length >= 2);
    expect(gate.running()[keyA] ?? 0).toBeLessThanOrEqual(1);
    gate.releaseAll();
    const results = await Promise.all(both);
    if (!results.includes(true) && (await ScanJobModel.countDocuments({ state: { $ne: 'done' } })) === 0) break;
  }
  expect(await ScanJobModel.countDocuments({ state: 'done' })).toBe(4);
});

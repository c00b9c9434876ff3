import request from 'supertest';
import { scannerFrom } from '../../src/modules/scanner';
import { vulnerabilitiesFrom } from '../../src/modules/vulnerabilities';
import { testCtx } from '../factories/scan-report.factory';
import { buildTestApp } from '../helpers/app';
import { debianLayer, pushImage } from '../helpers/oci-image';
import { startRegistry, type RegistryProcess } from '../helpers/registry-process';
import { useTestDb } from '../helpers/test-db';
import { DEBIAN_PACKAGES } from '../fixtures/clair/debian-packages';

useTestDb();

const PACKAGES = DEBIAN_PACKAGES;

let registry: RegistryProcess;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
});

describe('vulnerability intelligence after a real scan', () => {
  it('When a Debian image with two tags is scanned by Clair, then its CVEs, history and export follow', async () => {
    const { app, deps } = buildTestApp({
      CLAIR_URL: process.env.CLAIR_TEST_URL!,
      SCAN_WORKER: 'false',
      CVE_SUMMARY_INTERVAL_MS: '0',
    });
    const created = await request(app).post('/api/repository').send({ repository: '127.0.0.1', port: registry.port });
    expect(created.body.code).toBe(0);
    const key = created.body.data.key as string;
    await pushImage(registry.url, 'demo/debian', ['12', 'latest'], [debianLayer(PACKAGES)]);
    const scanner = scannerFrom(deps);

    await scanner.service.discover({ repository: key }, testCtx);
    await scanner.worker.drain(120_000);
    await vulnerabilitiesFrom(deps).summarizer.run();

    const cves = await request(app)
      .post('/api/vulnerabilities')
      .send({ sort: { field: 'level', order: 'desc' } });
    expect(cves.body.data.count).toBe(6);
    expect(cves.body.data.docs[0]).toMatchObject({
      cveId: 'CVE-2023-45853',
      level: 'Critical',
      images: 1,
      tags: 2,
      digests: 1,
      fixable: false,
      packages: ['zlib1g'],
    });
    expect(cves.body.data.docs[1]).toMatchObject({ cveId: 'CVE-2024-0727', level: 'High', fixable: true });

    const where = await request(app).get('/api/vulnerabilities/CVE-2024-0727/images');
    expect(where.body.data.docs.map((d: { tag: string }) => d.tag).sort()).toEqual(['12', 'latest']);
    expect(where.body.data.docs[0].packages).toEqual([
      { package: 'libssl3', version: '3.0.11-1~deb12u2', fixedBy: '3.0.13-1~deb12u1', level: 'High' },
    ]);

    const history = await request(app)
      .get('/api/scanner/history')
      .query({ repository: key, image: 'demo/debian', tag: '12' });
    expect(history.body.data.docs).toHaveLength(1);
    expect(history.body.data.docs[0]).toMatchObject({ critical: 1, high: 1, medium: 1, packages: PACKAGES.length });

    const csv = await request(app)
      .get('/api/scanner/image/export')
      .query({ repository: key, image: 'demo/debian', tag: '12', format: 'csv' });
    expect(csv.status).toBe(200);
    expect(csv.text.split('\r\n').filter(Boolean)).toHaveLength(1 + 6);
    expect(csv.text).toContain('CVE-2023-45853');
  });
});
